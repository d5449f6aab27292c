"""The fault-injection control endpoint: a small JSON API beside XAPI (never part of it).

    GET    /pools                               every pool: name, uuid, URLs, credentials, faults
    POST   /pools/{pool}/master      {"host": uuid|name_label|address}   switch the master
    POST   /pools/{pool}/drop-connections       cut every open connection of the pool's hosts
    POST   /pools/{pool}/expire-sessions        every session becomes SESSION_INVALID
    POST   /pools/{pool}/latency     {"seconds": 0.5}                     delay every call
    POST   /pools/{pool}/fail-calls  {"method": "VM.start"|"*", "error": ["CODE", "param"…]}
    DELETE /pools/{pool}/fail-calls  [{"method": …}]                      stop failing (one or all)
    POST   /pools/{pool}/stop                   close the pool's listening sockets
    POST   /pools/{pool}/start                  listen again on the same addresses and port
    POST   /pools/{pool}/reset                  clear latency and failures
    POST   /pools/{pool}/activity    {"rate": 50}                  changes per second (0 stops)

``{pool}`` is the pool's name, uuid or 1-based index. Answers are JSON; errors are
``{"error": "..."}`` with status 400 or 404.
"""

from __future__ import annotations

from typing import Any

import orjson

from xorca.xapi_sim.http.server import HttpServer, Request, Response, Takeover
from xorca.xapi_sim.simulator import RunningPool, Simulator


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlEndpoint:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = HttpServer(self.handle, max_body=1024 * 1024)
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        bound = await self.http.start(host, port)
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        await self.http.stop()

    async def handle(self, request: Request) -> Response | Takeover:
        try:
            status, body = await self.route(request)
        except ControlError as e:
            status, body = e.status, {"error": str(e)}
        return Response(status, orjson.dumps(body), "application/json")

    async def route(self, request: Request) -> tuple[int, Any]:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["pools"] and request.method == "GET":
            return 200, [self.state(p) for p in self.sim.pools]
        if len(parts) < 2 or parts[0] != "pools":
            raise ControlError(404, f"no such endpoint: {request.method} {request.path}")
        running = self.sim.find(parts[1])
        if running is None:
            raise ControlError(404, f"no such pool: {parts[1]}")
        if len(parts) == 2 and request.method == "GET":
            return 200, self.state(running)
        if len(parts) != 3:
            raise ControlError(404, f"no such endpoint: {request.path}")
        action, body = parts[2], _json(request.body)
        faults = running.pool.faults
        match (request.method, action):
            case ("POST", "master"):
                running.switch_master(self._host(running, body.get("host")))
            case ("POST", "drop-connections"):
                running.drop_connections()
            case ("POST", "expire-sessions"):
                running.pool.expire_all_sessions()
            case ("POST", "latency"):
                seconds = body.get("seconds")
                if not isinstance(seconds, int | float) or seconds < 0:
                    raise ControlError(400, 'latency needs {"seconds": number >= 0}')
                faults.latency = float(seconds)
            case ("POST", "fail-calls"):
                method, error = body.get("method"), body.get("error")
                if not isinstance(method, str) or not isinstance(error, list) or not error:
                    raise ControlError(
                        400, 'fail-calls needs {"method": str, "error": [code, ...]}'
                    )
                faults.fail_calls[method] = [str(e) for e in error]
            case ("DELETE", "fail-calls"):
                method = body.get("method")
                if method is None:
                    faults.fail_calls.clear()
                else:
                    faults.fail_calls.pop(str(method), None)
            case ("POST", "stop"):
                await running.stop()
            case ("POST", "start"):
                if not running.running:
                    await running.start()
            case ("POST", "activity"):
                rate = body.get("rate")
                if not isinstance(rate, int | float) or rate < 0:
                    raise ControlError(400, 'activity needs {"rate": number >= 0}')
                await running.set_activity(float(rate))
            case ("POST", "reset"):
                faults.latency = 0.0
                faults.fail_calls.clear()
            case _:
                raise ControlError(404, f"no such action: {request.method} {action}")
        return 200, self.state(running)

    def state(self, running: RunningPool) -> dict[str, Any]:
        faults = running.pool.faults
        return {
            **running.describe(),
            "hosts": [
                {
                    "uuid": rec["uuid"],
                    "name_label": rec["name_label"],
                    "address": rec["address"],
                    "master": ref == running.pool.master_ref,
                }
                for ref, rec in running.pool.db.records("host")
            ],
            "faults": {"latency": faults.latency, "fail_calls": faults.fail_calls},
            "sessions": len(running.pool.sessions),
            "activity": running.activity.rate if running.activity else 0,
        }

    def _host(self, running: RunningPool, key: object) -> str:
        for ref, rec in running.pool.db.records("host"):
            if key in (ref, rec["uuid"], rec["name_label"], rec["address"]):
                return ref
        raise ControlError(400, f"no such host in {running.pool.name}: {key!r}")


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ControlError(400, f"body is not JSON: {e}") from e
    if not isinstance(value, dict):
        raise ControlError(400, "body must be a JSON object")
    return value
