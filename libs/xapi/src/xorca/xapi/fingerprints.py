"""SHA-256 certificate fingerprints: as people write them, and as the client checks them.

Pure, and outside ``xorca.xapi.client`` on purpose: the pool registry (``xorca.contracts``)
validates the fingerprints of an entry with `normalise_fingerprint` without pulling in the client
(httpx); the client's pinning (``client/tls.py``) compares `fingerprint_of` the peer's certificate
with them.
"""

from __future__ import annotations

import hashlib

__all__ = ["fingerprint_of", "normalise_fingerprint"]


def normalise_fingerprint(text: str) -> str:
    """``"SHA256:AB:cd…"``, ``"ab cd…"`` or ``"abcd…"`` → 64 lowercase hex digits."""
    digits = text.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"not a SHA-256 fingerprint: {text!r}")
    return digits


def fingerprint_of(der: bytes) -> str:
    """The fingerprint of a certificate in DER form."""
    return hashlib.sha256(der).hexdigest()
