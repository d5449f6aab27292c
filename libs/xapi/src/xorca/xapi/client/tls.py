"""How the client trusts a host's certificate: the three ways that work with real XAPI hosts.

XAPI hosts serve HTTPS with a self-signed certificate generated at install time, so ordinary
verification against the system's authorities fails for almost every real pool. The choices are:

- `TlsPolicy.verified`: normal verification (chain and host name), against the system store or
  against certificates you give (a host's own certificate works as its CA, since it is
  self-signed; a pool needs every member's, concatenated);
- `TlsPolicy.pinned`: accept exactly the certificates whose SHA-256 fingerprints you give,
  whatever their names and dates, which is what an administrator confirms once in a UI;
- `TlsPolicy.insecure`: no check at all, only when asked for by name.

Pinning is checked *inside the handshake* (an `ssl.SSLObject` subclass that checks the peer
certificate as soon as the handshake completes), so a mismatch fails the connection before the
client sends a byte (no password goes to an impostor), and the same `ssl.SSLContext` works for
httpx (through anyio) and for the raw console socket (through asyncio), which both build their
TLS objects with ``SSLContext.wrap_bio``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from xorca.xapi.fingerprints import fingerprint_of, normalise_fingerprint

__all__ = ["FingerprintMismatch", "TlsPolicy"]

Mode = Literal["verify", "pin", "insecure"]


class FingerprintMismatch(ssl.SSLCertVerificationError):
    """The peer's certificate is not one of the pinned ones."""


@dataclass(frozen=True)
class TlsPolicy:
    """Build one with `verified`, `pinned` or `insecure`; `context` gives the `ssl.SSLContext`."""

    mode: Mode = "verify"
    #: PEM text of extra trusted certificates (verify mode); empty: the system store only
    ca_pem: str = ""
    cafile: str | None = None
    #: normalised SHA-256 fingerprints (pin mode)
    fingerprints: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def verified(cls, ca_pem: str = "", *, cafile: str | None = None) -> TlsPolicy:
        return cls("verify", ca_pem=ca_pem, cafile=cafile)

    @classmethod
    def pinned(cls, *fingerprints: str) -> TlsPolicy:
        if not fingerprints:
            raise ValueError("pinning needs at least one fingerprint")
        return cls("pin", fingerprints=frozenset(normalise_fingerprint(f) for f in fingerprints))

    @classmethod
    def insecure(cls) -> TlsPolicy:
        return cls("insecure")

    @classmethod
    def of(cls, mode: Mode, *, ca_pem: str = "", fingerprints: Iterable[str] = ()) -> TlsPolicy:
        """The policy ``mode`` names, from plain settings (a pool registry entry's ``tls``)."""
        if mode == "pin":
            return cls.pinned(*fingerprints)
        if mode == "insecure":
            return cls.insecure()
        return cls.verified(ca_pem)

    def context(self) -> ssl.SSLContext:
        """A client context for this policy (build it once and share it: it is not cheap)."""
        if self.mode == "verify":
            return ssl.create_default_context(cafile=self.cafile, cadata=self.ca_pem or None)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.mode == "pin":
            context.sslobject_class = _pinning_class(self.fingerprints)
        return context

    def describe(self) -> str:
        if self.mode == "pin":
            return "pinned " + ", ".join(sorted(f[:16] + "…" for f in self.fingerprints))
        return self.mode


def _pinning_class(fingerprints: Iterable[str]) -> type[ssl.SSLObject]:
    allowed = frozenset(fingerprints)

    class PinnedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()  # raises SSLWantReadError until the handshake is complete
            der = self.getpeercert(binary_form=True)
            seen = fingerprint_of(der) if der else "no certificate"
            if seen not in allowed:
                raise FingerprintMismatch(
                    f"certificate fingerprint {seen} is not the pinned one "
                    f"({', '.join(sorted(allowed))})"
                )

    return PinnedSSLObject


def ssl_failure(error: BaseException) -> ssl.SSLError | None:
    """The `ssl.SSLError` behind an httpx/anyio/asyncio connection error, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
