"""``xorca pool add|list|remove`` against a real NATS server, as a user types them."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from typer.testing import CliRunner

from tests.support.nats import NatsServer
from xorca.cli import app
from xorca.contracts.passwords import generate_secret_key

# the real NATS server fixtures (nats_server, nc, js)


@pytest.fixture
def env(nats_server: NatsServer) -> dict[str, str]:
    return {"XORCA_NATS_URL": nats_server.url, "XORCA_SECRET_KEY": generate_secret_key()}


def xorca(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def test_add_list_remove(env: dict[str, str]) -> None:
    code, out, _ = xorca(env, "pool", "list")
    assert (code, out.strip()) == (0, "no pools registered")
    code, out, err = xorca(
        env, "pool", "add", "lab", "https://192.0.2.10", "--password", "s3cret!", "--id", "lab"
    )
    assert (code, out.strip()) == (0, "lab"), err
    code, out, _ = xorca(
        env,
        "pool",
        "add",
        "edge",
        "https://192.0.2.20",
        "-u",
        "admin",
        "--tls",
        "pin",
        "--fingerprint",
        "ab" * 32,
        "--disabled",
        input="typed-password\n",  # prompted, not echoed
    )
    assert code == 0
    edge_id = out.strip().splitlines()[-1]
    code, out, _ = xorca(env, "pool", "list")
    assert code == 0
    assert "lab" in out
    assert "edge" in out
    assert "pin" in out
    assert "s3cret" not in out
    code, out, _ = xorca(env, "pool", "list", "--json")
    listed = json.loads(out)
    assert [p["name"] for p in listed] == ["edge", "lab"]
    assert listed[0]["enabled"] is False
    assert listed[0]["username"] == "admin"
    assert all("password" not in p and "password_encrypted" not in p for p in listed)
    assert "typed-password" not in out
    code, out, _ = xorca(env, "pool", "remove", "edge")  # by name
    assert (code, out.strip()) == (0, f"removed {edge_id}")
    code, out, _ = xorca(env, "pool", "remove", "lab")  # by id
    assert code == 0
    code, out, _ = xorca(env, "pool", "list", "--json")
    assert json.loads(out) == []


def test_refusals(env: dict[str, str]) -> None:
    add = ("pool", "add", "lab", "https://192.0.2.10", "--password", "x", "--id", "lab")
    assert xorca(env, *add)[0] == 0
    code, _, err = xorca(env, *add)
    assert code == 1
    assert "already registered" in err
    code, _, err = xorca(env, "pool", "add", "bad", "ftp://192.0.2.1", "--password", "x")
    assert code == 2
    assert "url" in err
    code, _, err = xorca(env, "pool", "add", "bad", "https://h", "--password", "x", "--tls", "pin")
    assert code == 2
    assert "fingerprint" in err
    code, _, err = xorca(env, "pool", "remove", "nothing")
    assert code == 1
    assert "no pool" in err
    code, _, err = xorca({**env, "XORCA_SECRET_KEY": ""}, "pool", "list")
    assert code == 1
    assert "keygen" in err
    code, _, err = xorca({**env, "XORCA_SECRET_KEY": "not-a-key"}, "pool", "list")
    assert code == 1
    assert "Fernet" in err


def test_unreachable_nats(env: dict[str, str], nats_server: NatsServer) -> None:
    nats_server.stop()
    code, _, err = xorca(env, "pool", "list")
    assert code == 1
    assert "cannot reach NATS" in err


def test_list_shows_a_broken_entry_as_invalid(env: dict[str, str]) -> None:
    assert xorca(env, "pool", "add", "ok", "https://192.0.2.1", "--password", "x")[0] == 0

    async def break_one() -> None:
        client = await nats.connect(env["XORCA_NATS_URL"])
        kv = await client.jetstream().key_value("XORCA_POOLS")
        await kv.put("broken", b"{}")
        await client.close()

    asyncio.run(break_one())
    code, out, _ = xorca(env, "pool", "list")
    assert code == 0
    assert "INVALID" in out
    assert "ok" in out
    code, out, _ = xorca(env, "pool", "list", "--json")
    assert {"id": "broken", "invalid": "id: Field required"} in json.loads(out)


def test_keygen_gives_a_usable_key() -> None:
    result = CliRunner().invoke(app, ["pool", "keygen"])
    assert result.exit_code == 0
    from xorca.contracts.passwords import PasswordCipher

    PasswordCipher(result.stdout.strip())


def test_token_create_list_revoke(env: dict[str, str]) -> None:
    code, out, err = xorca(env, "token", "create", "--name", "ci-robot")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("xorca_") and "not shown again" in err
    code, out, _ = xorca(env, "token", "list", "--json")
    listed = json.loads(out)
    assert [(t["name"], t["role"]) for t in listed] == [("ci-robot", "admin")]
    assert token not in out
    assert token.split("_")[1] == listed[0]["id"]
    code, out, _ = xorca(env, "token", "revoke", listed[0]["id"])
    assert (code, out.strip()) == (0, f"token {listed[0]['id']} revoked")
    code, out, _ = xorca(env, "token", "list")
    assert (code, out.strip()) == (0, "")
    code, _, err = xorca(env, "token", "revoke", listed[0]["id"])
    assert code == 1 and "no token" in err
