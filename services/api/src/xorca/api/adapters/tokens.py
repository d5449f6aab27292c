"""The tokens the gateway accepts: XORCA_TOKENS watched into memory, checked on every request.

A revoked token is refused as soon as the watch brings its removal (moments, on every gateway).
Until the first full read of the bucket, every token is refused (the gateway is not ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from xorca.api.core.acl import Principal
from xorca.bus.connection import NATS_ERRORS
from xorca.bus.tokens import Tokens
from xorca.contracts.tokens import TokenEntry, matches, parse_token
from xorca.runtime.aio import cancel_and_wait

__all__ = ["TokenCache"]

log = logging.getLogger(__name__)


class TokenCache:
    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self._entries: dict[str, TokenEntry] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="xorca-api-tokens")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    def principal(self, token: str) -> Principal | None:
        """Who ``token`` stands for, or None (unknown, revoked, malformed)."""
        token_id = parse_token(token)
        entry = self._entries.get(token_id) if token_id else None
        if entry is None or not matches(entry, token):
            return None
        return Principal(id=f"token:{entry.id}", name=entry.name, role=entry.role)

    async def _watch(self) -> None:
        while True:
            try:
                async for change in self._tokens.watch():
                    if change is None:
                        self.ready.set()
                        continue
                    token_id, entry = change
                    if entry is None:
                        self._entries.pop(token_id, None)
                    else:
                        self._entries[token_id] = entry
            except NATS_ERRORS as e:
                log.warning("tokens: watch interrupted (%r): watching again", e)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.5)
