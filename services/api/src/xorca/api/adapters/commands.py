"""Sending a command to the collector that serves its pool (NATS request/reply)."""

from __future__ import annotations

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from xorca.api.core.codes import MALFORMED_REPLY
from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.contracts.base import ErrorBody
from xorca.contracts.codes import POOL_NOT_MANAGED, POOL_UNAVAILABLE, TIMEOUT
from xorca.contracts.commands import Command, CommandFailed, CommandReply, parse_reply
from xorca.contracts.errors import MalformedMessage
from xorca.contracts.subjects import command_subject

__all__ = ["send_command"]


async def send_command(bus: NatsBus, pool: str, command: Command, timeout: float) -> CommandReply:
    """The collector's reply, or a `CommandFailed` saying why there was none."""
    try:
        answer = await bus.nc.request(command_subject(pool), command.to_json(), timeout=timeout)
    except NoRespondersError:
        return _failed(command, POOL_NOT_MANAGED, [pool])
    except (NatsTimeout, TimeoutError):
        return _failed(command, TIMEOUT, [command.method, f"no answer in {timeout} s"])
    except NATS_ERRORS as e:
        return _failed(command, POOL_UNAVAILABLE, [pool, f"nats: {e!r}"])
    try:
        return parse_reply(answer.data)
    except MalformedMessage as e:
        return _failed(command, MALFORMED_REPLY, [str(e)])


def _failed(command: Command, code: str, params: list[str]) -> CommandFailed:
    return CommandFailed(request_id=command.request_id, error=ErrorBody(code=code, params=params))
