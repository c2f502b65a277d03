import pytest
from cryptography.fernet import Fernet
from shopify.utils import shop_url

from merchants.domains import shop_domain_is_valid, shop_domain_normalise
from merchants.encryption import InvalidToken, secret_decrypt, secret_encrypt
from merchants.models import Shop


@pytest.mark.parametrize(
    "value",
    ["demo-store.myshopify.com", "A1.myshopify.com", "x.myshopify.com"],
)
def test_valid_shop_domains(value: str) -> None:
    assert shop_domain_is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "evil.com/x.myshopify.com",
        "evil.com?x.myshopify.com",
        "x.myshopify.com.evil.com",
        "-x.myshopify.com",
        "x.myshopify.com\n",
        "https://x.myshopify.com",
        "x.myshopify.co",
        "",
        None,
        "x_y.myshopify.com",
        "acme",
        " acme.myshopify.com ",
        "acme.myshopify.com/",
        "acme.myshopify.com#x",
        "http://acme.myshopify.com",
    ],
)
def test_invalid_shop_domains(value: object) -> None:
    assert not shop_domain_is_valid(value)
    assert shop_domain_normalise(value) is None


@pytest.mark.parametrize(
    ("value", "library_sanitised", "beam"),
    [
        ("https://acme.myshopify.com/", "acme.myshopify.com", None),
        ("acme", "acme.myshopify.com", None),
        (" ACME.myshopify.com ", "acme.myshopify.com", None),
        ("x.myshopify.com", None, "x.myshopify.com"),
        ("ACME.myshopify.com", "acme.myshopify.com", "acme.myshopify.com"),
    ],
)
def test_beam_follows_the_documented_pattern_where_the_librarys_sanitiser_differs(
    value: str, library_sanitised: str | None, beam: str | None
) -> None:
    """The library turns loose input into a domain (and refuses one-character names); Beam
    only accepts a domain already in the documented form, so a URL, a CSP or a query is
    never built from something the platform did not send as a shop."""
    assert shop_url.sanitize_shop_domain(value) == library_sanitised
    assert shop_domain_normalise(value) == beam


def test_secret_round_trip_and_key_rotation(settings) -> None:
    old_key = settings.BEAM_TOKEN_ENCRYPTION_KEYS[0]
    ciphertext = secret_encrypt("shpat_secret")
    assert "shpat_secret" not in ciphertext
    new_key = Fernet.generate_key().decode()
    settings.BEAM_TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    assert secret_decrypt(ciphertext) == "shpat_secret"
    settings.BEAM_TOKEN_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(InvalidToken):
        secret_decrypt(ciphertext)


@pytest.mark.django_db
def test_shop_tokens_are_stored_encrypted() -> None:
    shop = Shop(domain="demo-store.myshopify.com")
    shop.access_token = "shpat_plain"
    shop.save()
    stored = Shop.objects.values_list("access_token_encrypted", flat=True).get()
    assert "shpat_plain" not in stored
    assert Shop.objects.get().access_token == "shpat_plain"


def test_platform_http_routes_test_origin_in_process_and_blocks_others(platform_http) -> None:
    import requests

    assert requests.get("http://beam.test/healthz-missing", timeout=1).status_code == 404
    platform_http.add("GET", "http://beam.test/healthz-missing", json={"stub": True}, status=200)
    assert requests.get("http://beam.test/healthz-missing", timeout=1).json() == {"stub": True}
    with pytest.raises(requests.ConnectionError):
        requests.get("https://example.com/", timeout=1)
