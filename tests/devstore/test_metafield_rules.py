"""The devstore refuses metafield and tag writes the platform refuses: an unknown type, a
blank or multi-line single-line text, a value past its type's limit, more than 25 inputs,
an owner that does not exist, a tag past 255 characters; and runs several aliased tag
mutations of one document in order."""

from __future__ import annotations

import pytest

from devstore.models import DevCustomer, DevMetafield
from tests.devstore.factories import DevCustomerFactory

pytestmark = pytest.mark.django_db

SET = """mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {
  metafields { key value } userErrors { field message code elementIndex } } }"""


def tier_input(owner: str, value: str, kind: str = "single_line_text_field") -> dict:
    return {"ownerId": owner, "namespace": "$app", "key": "tier", "type": kind, "value": value}


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("single_line_text_field", "", "Value can't be blank."),
        ("single_line_text_field", "Gold\nSilver", "Value must be a single line of text."),
        (
            "single_line_text_field",
            "G" * 65_536,
            "Value is too long for type single_line_text_field.",
        ),
        ("shoe_size", "42", "Type 'shoe_size' is not a valid metafield type."),
    ],
)
def test_a_refused_value_is_a_user_error_naming_its_input(gql, dev_shop, kind, value, message):
    customer = DevCustomerFactory(shop=dev_shop)
    answer = gql(
        SET, {"m": [tier_input(customer.gid, "Silver"), tier_input(customer.gid, value, kind)]}
    ).json()["data"]["metafieldsSet"]

    (error,) = answer["userErrors"]
    assert (error["elementIndex"], error["message"]) == (1, message)
    assert not DevMetafield.objects.exists()  # all or nothing


def test_more_than_25_inputs_and_unknown_owners_are_refused(gql, dev_shop):
    customer = DevCustomerFactory(shop=dev_shop)
    too_many = gql(SET, {"m": [tier_input(customer.gid, "Gold")] * 26}).json()["data"]
    assert too_many["metafieldsSet"]["userErrors"][0]["code"] == "LESS_THAN_OR_EQUAL_TO"
    ghost = gql(SET, {"m": [tier_input("gid://shopify/Customer/999999", "Gold")]}).json()["data"]
    assert ghost["metafieldsSet"]["userErrors"][0]["field"] == ["metafields", "0", "ownerId"]
    assert not DevMetafield.objects.exists()


def test_aliased_tag_mutations_of_several_customers_in_one_document(gql, dev_shop):
    ann = DevCustomerFactory(shop=dev_shop)
    DevCustomer.objects.filter(pk=ann.pk).update(tags=["VIP: Silver", "newsletter"])
    bo = DevCustomerFactory(shop=dev_shop)
    answer = gql(
        """mutation($a: ID!, $b: ID!, $old: [String!]!, $new: [String!]!, $long: [String!]!) {
          r0: tagsRemove(id: $a, tags: $old) { userErrors { message } }
          a0: tagsAdd(id: $a, tags: $new) { userErrors { message } }
          a1: tagsAdd(id: $b, tags: $long) { userErrors { message } } }""",
        {
            "a": ann.gid,
            "b": bo.gid,
            "old": ["VIP: Silver"],
            "new": ["VIP: Gold"],
            "long": ["x" * 256],
        },
    ).json()["data"]

    assert answer["r0"]["userErrors"] == [] and answer["a0"]["userErrors"] == []
    assert answer["a1"]["userErrors"] == [{"message": "A tag has at most 255 characters."}]
    assert DevCustomer.objects.get(pk=ann.pk).tags == ["newsletter", "VIP: Gold"]
    assert DevCustomer.objects.get(pk=bo.pk).tags == []
