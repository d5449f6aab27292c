"""API tokens in XORCA_TOKENS: created, recognised, listed, revoked, watched; only digests kept."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from tests.support.waiting import eventually
from xorca.bus.setup import ensure_streams
from xorca.bus.tokens import Tokens
from xorca.contracts.tokens import TokenNotFound, matches, parse_token


async def test_a_token_is_shown_once_and_only_its_digest_is_kept(js: JetStreamContext) -> None:
    await ensure_streams(js)
    tokens = await Tokens.open(js)
    token, entry = await tokens.create("ci")
    token_id = parse_token(token)
    assert token_id == entry.id and entry.role == "admin"
    stored = await (await js.key_value("XORCA_TOKENS")).get(entry.id)
    assert token.encode() not in (stored.value or b"")
    found = await tokens.get(entry.id)
    assert found is not None and matches(found, token)
    assert not matches(found, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert [e.id for e in await tokens.list()] == [entry.id]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "xorca_",
        "Bearer xorca_0123",
        "xorca_0123456789ab_short",
        "xorca_0123456789AB_" + "a" * 43,
    ],
)
def test_malformed_tokens_name_nothing(text: str) -> None:
    assert parse_token(text) is None


async def test_revocation_reaches_a_watcher(js: JetStreamContext) -> None:
    tokens = await Tokens.open(js, create=True)
    _, first = await tokens.create("first")
    seen: list[tuple[str, object] | None] = []
    watch = tokens.watch()

    async def follow() -> None:
        async for change in watch:
            seen.append(change)
            if change is not None and change[1] is None:
                return

    task = asyncio.create_task(follow())
    await eventually(lambda: None in seen, what="the initial values, then None", interval=0.01)
    assert seen[0] is not None and seen[0][0] == first.id
    await tokens.revoke(first.id)
    await asyncio.wait_for(task, 5)
    await watch.aclose()
    assert seen[-1] == (first.id, None)
    assert await tokens.get(first.id) is None
    with pytest.raises(TokenNotFound):
        await tokens.revoke(first.id)
