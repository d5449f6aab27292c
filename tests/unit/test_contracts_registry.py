"""Registry entries at rest: the password is encrypted, and a broken entry says what is wrong."""

from __future__ import annotations

import orjson
import pytest
from pydantic import SecretStr, ValidationError

from xorca.bus.settings import NatsSettings
from xorca.contracts.errors import RegistryEntryInvalid, SecretKeyError
from xorca.contracts.leases import LeaseValue, may_take
from xorca.contracts.passwords import PasswordCipher, generate_secret_key
from xorca.contracts.registry import PoolEntry, TlsSettings, seal, unseal
from xorca.xapi.client import TlsPolicy

FINGERPRINT = "AB:" * 31 + "AB"


def entry(**fields: object) -> PoolEntry:
    values: dict[str, object] = {
        "id": "lab",
        "name": "Lab pool",
        "url": "https://192.0.2.10/",
        "username": "root",
        "password": SecretStr("hunter2-secret"),
        **fields,
    }
    return PoolEntry.model_validate(values)


@pytest.fixture
def cipher() -> PasswordCipher:
    return PasswordCipher(generate_secret_key())


def test_seal_then_unseal_gives_the_entry_back(cipher: PasswordCipher) -> None:
    original = entry(tls=TlsSettings(mode="pin", fingerprints=[FINGERPRINT]), enabled=False)
    value = seal(original, cipher)
    assert b"hunter2-secret" not in value
    stored = orjson.loads(value)
    assert "password" not in stored
    assert stored["password_encrypted"].startswith("gAAAAA")  # a Fernet token
    back = unseal("lab", value, cipher)
    assert back == original
    assert back.password.get_secret_value() == "hunter2-secret"
    assert back.url == "https://192.0.2.10"  # trailing slash dropped
    assert back.tls.fingerprints == ["ab" * 32]


def test_the_password_never_shows(cipher: PasswordCipher) -> None:
    e = entry()
    assert "hunter2" not in repr(e)
    assert "hunter2" not in str(e.public())
    assert "password" not in e.public()


def test_each_seal_encrypts_afresh(cipher: PasswordCipher) -> None:
    assert seal(entry(), cipher) != seal(entry(), cipher)  # Fernet has a random IV


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "value"),
        (b"", "value"),
        (b'{"id": "lab"}', "name"),
        (
            b'{"id": "lab", "name": "n", "url": "ftp://x", "username": "u",'
            b' "password_encrypted": "t"}',
            "url",
        ),
        (
            b'{"id": "other", "name": "n", "url": "https://x", "username": "u",'
            b' "password_encrypted": "t"}',
            "its id is",
        ),
        (
            b'{"id": "lab", "name": "n", "url": "https://x", "username": "u",'
            b' "password_encrypted": "not-a-token"}',
            "cannot be decrypted",
        ),
    ],
)
def test_malformed_values(cipher: PasswordCipher, value: bytes, reason: str) -> None:
    with pytest.raises(RegistryEntryInvalid) as caught:
        unseal("lab", value, cipher)
    assert caught.value.id == "lab"
    assert reason in caught.value.reason


def test_another_key_cannot_read_the_password(cipher: PasswordCipher) -> None:
    value = seal(entry(), cipher)
    with pytest.raises(RegistryEntryInvalid, match="cannot be decrypted"):
        unseal("lab", value, PasswordCipher(generate_secret_key()))


def test_key_rotation_reads_old_entries_and_writes_with_the_new_key() -> None:
    old, new = generate_secret_key(), generate_secret_key()
    value = seal(entry(), PasswordCipher(old))
    rotating = PasswordCipher(f"{new},{old}")
    assert unseal("lab", value, rotating).password.get_secret_value() == "hunter2-secret"
    rewritten = seal(entry(), rotating)
    assert unseal("lab", rewritten, PasswordCipher(new)).id == "lab"


@pytest.mark.parametrize("key", ["", " , ", "short", "x" * 44])
def test_unusable_keys(key: str) -> None:
    with pytest.raises(SecretKeyError):
        PasswordCipher(key)


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "192.0.2.10"},
        {"url": "ftp://192.0.2.10"},
        {"id": "has space"},
        {"id": "a.b"},
        {"name": ""},
        {"tls": {"mode": "pin"}},  # pinning without a fingerprint
        {"tls": {"mode": "pin", "fingerprints": ["abc"]}},
        {"tls": {"mode": "trust-me"}},
        {"colour": "blue"},
    ],
)
def test_invalid_entries_are_refused_before_they_are_stored(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        entry(**fields)


def policy(tls: TlsSettings) -> TlsPolicy:
    """As the collector and the api build it next to their XAPI client."""
    return TlsPolicy.of(tls.mode, ca_pem=tls.ca_pem, fingerprints=tls.fingerprints)


def test_tls_settings_give_the_client_policy() -> None:
    assert policy(TlsSettings()).mode == "verify"
    assert policy(TlsSettings(mode="insecure")).mode == "insecure"
    pinned = policy(TlsSettings(mode="pin", fingerprints=[FINGERPRINT]))
    assert pinned.fingerprints == frozenset({"ab" * 32})


# ---- leases and settings (pure parts) -------------------------------------------------------


def test_may_take_a_lease() -> None:
    held = LeaseValue(holder="a", expires_at=100.0, acquired_at=50.0)
    assert may_take(None, "b", 0)
    assert may_take(held, "a", 99)  # our own
    assert not may_take(held, "b", 99.9)
    assert may_take(held, "b", 100)  # expired


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XORCA_NATS_URL", "nats://a:4222, nats://b:4222")
    monkeypatch.setenv("XORCA_NATS_REPLICAS", "3")
    monkeypatch.setenv("XORCA_SECRET_KEY", "k3y-value")
    monkeypatch.setenv("XORCA_DATABASE_URL", "sqlite://")  # another service's: ignored
    settings = NatsSettings()
    assert settings.servers == ["nats://a:4222", "nats://b:4222"]
    assert settings.nats_replicas == 3
    assert settings.require_secret_key() == "k3y-value"
    assert "k3y-value" not in repr(settings)


def test_settings_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XORCA_SECRET_KEY", raising=False)
    with pytest.raises(SecretKeyError, match="keygen"):
        NatsSettings().require_secret_key()
    monkeypatch.setenv("XORCA_NATS_REPLICAS", "0")
    with pytest.raises(ValidationError):
        NatsSettings()
