"""The codes Beam makes (discount codes, referral codes): one alphabet, one shape."""

from __future__ import annotations

from collections.abc import Callable

# No 0/O/1/I: readable aloud, typed without doubt.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def code_generate(prefix: str, choose: Callable[[str], str], groups: int = 2) -> str:
    """``PREFIX-XXXX-XXXX``: ``groups`` groups of four characters of ``CODE_ALPHABET``, each
    picked by ``choose`` (``secrets.choice`` in production)."""
    parts = ["".join(choose(CODE_ALPHABET) for _ in range(4)) for _ in range(groups)]
    return "-".join([prefix, *parts]) if prefix else "-".join(parts)
