"""Link codes themselves: their shape, how they are drawn, and how they are hashed.

A code's secret is stored only as a salted hash keyed by the deployment's secret
(`use_secret`), so a copied database cannot test codes. A pairing code is a public lookup
part and a secret part, `ABCD-EFGH23`, drawn from letters and digits that read aloud well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

CODE_TTL = timedelta(minutes=15)
MAX_FAILURES = 5
PAIRING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud, typed on phones
PAIRING_LOOKUP_LENGTH = 4
PAIRING_SECRET_LENGTH = 6
PAIRING_LENGTH = PAIRING_LOOKUP_LENGTH + PAIRING_SECRET_LENGTH
# Pairing codes issued before lookup parts existed: refused with their own explanation.
LEGACY_PAIRING_LENGTH = 8


def normalise_code(text: str) -> str:
    """What a person typed, without spaces or dashes, upper-cased."""
    return "".join(ch for ch in text if ch.isalnum()).upper()


def split_pairing(code: str) -> tuple[str, str] | None:
    """The (lookup, secret) parts of a pairing code, or None if it has not that shape."""
    code = normalise_code(code)
    if len(code) != PAIRING_LENGTH:
        return None
    return code[:PAIRING_LOOKUP_LENGTH], code[PAIRING_LOOKUP_LENGTH:]


def show_pairing(code: str) -> str:
    """A pairing code as people see it: lookup, dash, secret."""
    lookup, secret = code[:PAIRING_LOOKUP_LENGTH], code[PAIRING_LOOKUP_LENGTH:]
    return f"{lookup}-{secret}"


def random_code(length: int) -> str:
    """A code of `length` characters drawn from the pairing alphabet."""
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(length))


class _Keys:
    key: bytes | None = None  # set by `use_secret`


def use_secret(secret: bytes) -> None:
    """Key link code hashes with the deployment's secret: a copied database can't test codes."""
    if not secret:
        raise ValueError("the link code secret must not be empty")
    _Keys.key = hmac.new(secret, b"switchboard link codes v2", hashlib.sha256).digest()


def digest(code: str, salt: str) -> str:
    """The salted, keyed hash of a code as it is stored."""
    if _Keys.key is None:
        raise RuntimeError("link codes need the deployment secret: call store.links.use_secret")
    return hmac.new(_Keys.key, f"{salt}:{normalise_code(code)}".encode(), "sha256").hexdigest()
