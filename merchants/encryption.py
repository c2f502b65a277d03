"""Encryption of platform tokens at rest.

Tokens are Fernet-encrypted with the keys in ``BEAM_TOKEN_ENCRYPTION_KEYS`` (newest first);
older keys still decrypt, so keys can be rotated without a flag day.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("BEAM_TOKEN_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def secret_encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage; the empty string stays empty (no token)."""
    if not plaintext:
        return ""
    return _fernet(tuple(settings.BEAM_TOKEN_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def secret_decrypt(ciphertext: str) -> str:
    """Decrypt a stored secret; raises ``InvalidToken`` when no configured key fits."""
    if not ciphertext:
        return ""
    return _fernet(tuple(settings.BEAM_TOKEN_ENCRYPTION_KEYS)).decrypt(ciphertext.encode()).decode()


__all__ = ["InvalidToken", "secret_decrypt", "secret_encrypt"]
