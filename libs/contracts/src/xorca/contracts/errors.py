"""The one exception tree of the contract library; every failure carries structured fields.

    ContractError                    the root
     ├── InvalidSubject              a subject or subject token that breaks the naming rules
     ├── MalformedMessage            a body or header set that does not decode to its model
     ├── CommandRejected             a command refused before XAPI: ``code``, ``params`` as XAPI's
     ├── RegistryError               the pool registry (KV bucket XORCA_POOLS)
     │    ├── RegistryUnavailable    the bucket is missing or NATS failed (``from`` the nats error)
     │    ├── SecretKeyError         XORCA_SECRET_KEY missing or not a Fernet key
     │    ├── PoolNotFound           no entry with that id
     │    ├── PoolExists             ``add`` of an id that is already there
     │    └── RegistryEntryInvalid   one stored entry that cannot be used: ``id``, ``reason``
     └── LeaseError
          └── LeaseLost              someone else holds (or took over) the lease

``RegistryEntryInvalid`` is also *returned* (not raised) by ``Registry.list`` and ``watch``
(``xorca.bus.registry``) in place of the entry it stands for: one broken entry must never hide the
others.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CommandRejected",
    "ContractError",
    "InvalidSubject",
    "LeaseError",
    "LeaseLost",
    "MalformedMessage",
    "PoolExists",
    "PoolNotFound",
    "RegistryEntryInvalid",
    "RegistryError",
    "RegistryUnavailable",
    "SecretKeyError",
]


class ContractError(Exception):
    """Root of every error raised by ``xorca.contracts``."""


class InvalidSubject(ContractError, ValueError):
    """A subject, or a token meant for one, that does not follow docs/nats.md."""


class MalformedMessage(ContractError, ValueError):
    """A message whose body or headers do not decode to the model of its subject."""


class CommandRejected(ContractError):
    """A command refused before it reached XAPI, with an XAPI-shaped ``code`` and ``params``."""

    def __init__(self, code: str, params: Sequence[object] = ()) -> None:
        self.code = code
        self.params = [str(p) for p in params]
        super().__init__(code, *self.params)


class RegistryError(ContractError):
    """A failure of the pool registry."""


class RegistryUnavailable(RegistryError):
    """The registry bucket does not exist or NATS did not answer."""


class SecretKeyError(RegistryError):
    """No usable XORCA_SECRET_KEY: passwords can be neither stored nor read."""


class PoolNotFound(RegistryError, KeyError):
    """No registry entry with this id."""

    def __init__(self, entry_id: str) -> None:
        self.id = entry_id
        super().__init__(entry_id)

    def __str__(self) -> str:
        return f"no pool with id {self.id!r}"


class PoolExists(RegistryError):
    """An entry with this id is already registered."""

    def __init__(self, entry_id: str) -> None:
        self.id = entry_id
        super().__init__(entry_id)

    def __str__(self) -> str:
        return f"a pool with id {self.id!r} is already registered"


class RegistryEntryInvalid(RegistryError):
    """A stored entry that cannot be used (bad JSON, bad fields, undecryptable password)."""

    def __init__(self, entry_id: str, reason: str) -> None:
        self.id = entry_id
        self.reason = reason
        super().__init__(entry_id, reason)

    def __str__(self) -> str:
        return f"registry entry {self.id!r} is invalid: {self.reason}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegistryEntryInvalid):
            return NotImplemented
        return (self.id, self.reason) == (other.id, other.reason)

    def __hash__(self) -> int:
        return hash((self.id, self.reason))


class LeaseError(ContractError):
    """A failure of the pool leases (KV bucket XORCA_LEASES)."""


class LeaseLost(LeaseError):
    """The lease is no longer ours: it expired and was taken, or was released by someone else."""

    def __init__(self, key: str, holder: str | None) -> None:
        self.key = key
        self.holder = holder
        super().__init__(key, holder)
