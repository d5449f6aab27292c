"""TLS policies as contexts (the handshakes themselves are in tests/integration/test_client_tls)."""

from __future__ import annotations

import ssl

import pytest

from xorca.xapi.client import TlsPolicy
from xorca.xapi.fingerprints import normalise_fingerprint

DIGEST = "ab" * 32


def test_fingerprints_in_every_usual_spelling() -> None:
    colons = ":".join(["AB"] * 32)
    for text in (DIGEST, DIGEST.upper(), colons, f"SHA256:{colons}", f" {DIGEST} "):
        assert normalise_fingerprint(text) == DIGEST
    for bad in ("", "ab" * 31, "zz" * 32, "sha1:" + "ab" * 20):
        with pytest.raises(ValueError, match="SHA-256"):
            normalise_fingerprint(bad)


def test_contexts() -> None:
    verified = TlsPolicy.verified().context()
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    pinned = TlsPolicy.pinned(DIGEST, "cd" * 32)
    assert pinned.fingerprints == {DIGEST, "cd" * 32}
    context = pinned.context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert issubclass(context.sslobject_class, ssl.SSLObject)
    assert context.sslobject_class is not ssl.SSLObject  # the pin is checked in the handshake
    insecure = TlsPolicy.insecure().context()
    assert insecure.verify_mode == ssl.CERT_NONE and insecure.sslobject_class is ssl.SSLObject
    assert TlsPolicy().mode == "verify"  # verification unless asked otherwise
    with pytest.raises(ValueError, match="fingerprint"):
        TlsPolicy.pinned()
