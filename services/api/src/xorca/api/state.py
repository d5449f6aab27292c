"""What the routes share: the store, NATS, the live view, the tokens, the settings, the metrics;
and the `Annotated` dependencies that hand them out (``ApiDep``, ``CallerDep``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from xorca.api.adapters.hub import Hub
from xorca.api.adapters.metrics import Metrics
from xorca.api.adapters.tokens import TokenCache
from xorca.api.core.acl import Principal
from xorca.api.http import authenticate
from xorca.api.settings import ApiSettings
from xorca.bus.connection import NatsBus
from xorca.store import Store

__all__ = ["ApiDep", "ApiState", "CallerDep"]


@dataclass
class ApiState:
    settings: ApiSettings
    store: Store
    bus: NatsBus
    hub: Hub
    tokens: TokenCache
    metrics: Metrics


def _api(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _caller(request: Request) -> Principal:
    return authenticate(request, _api(request).tokens.principal)


ApiDep = Annotated[ApiState, Depends(_api)]
CallerDep = Annotated[Principal, Depends(_caller)]
