"""Passwords at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from XORCA_SECRET_KEY.

The registry lives in a NATS KV bucket that every service with NATS access can read, so the XAPI
passwords in it are encrypted with a key that only the services that log in to pools hold (the
collector, and the CLI or auth service that writes entries).

``XORCA_SECRET_KEY`` holds one key, or several separated by commas for rotation: the first one
encrypts, every one of them decrypts. To rotate, put the new key first, rewrite the entries
(``xorca pool add`` again, or the auth service), then drop the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from xorca.contracts.errors import SecretKeyError

__all__ = ["PasswordCipher", "generate_secret_key"]


def generate_secret_key() -> str:
    """A new random key for XORCA_SECRET_KEY (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


class PasswordCipher:
    """Encrypts and decrypts registry passwords with the keys of XORCA_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        keys = [k.strip() for k in secret_key.split(",") if k.strip()]
        if not keys:
            raise SecretKeyError("XORCA_SECRET_KEY is empty; generate one with `xorca pool keygen`")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError) as e:
            raise SecretKeyError(
                "XORCA_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from e

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The password; ``ValueError`` if no key of ours encrypted it (or it was altered)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeDecodeError) as e:
            raise ValueError("password cannot be decrypted with XORCA_SECRET_KEY") from e
