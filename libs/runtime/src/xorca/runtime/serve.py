"""Running a service: `serve` at the end of every ``bootstrap.run``, `run_process` (and
`exit_status`) in every ``__main__``.

    async def run(settings, *, started=None):          # bootstrap.py
        async with connected_bus(settings, name=...) as bus:      # what it needs, closed last
            service = Thing(...)
            await serve(service, name="thing", health=(host, port), started=started)

    def main() -> int:                                   # __main__.py
        return exit_status(lambda: run_process(run, ThingSettings()), {KeyMissing: (2, "")})

`serve` opens the service's ``/healthz``, ``/readyz`` and ``/metrics`` when it has its own
(`Probed`: the collector, the projection; the api serves them on its own port), hands the service
to ``started`` (the demo and the tests keep it, to read it and to stop it), runs it, and closes
the health server once `Service.run` returned. What the bootstrap opened before (NATS, the
store…) is closed after that, in reverse order, by the ``async with`` it was opened in.

`run_until_signalled` is a bootstrap's ``run`` with SIGINT and SIGTERM stopping it cleanly: a
service that started is asked to `Service.stop` and drains (the collector releases its leases,
the projection finishes its batch, the api its requests); before that (still waiting for NATS or
the store) there is nothing to drain, so the start is cancelled. Only the owner of a process
handles its signals: the demo and the tests run several services in one loop and stop each one
themselves (`xorca.runtime.inprocess`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar, cast, overload

from xorca.runtime.http import HttpServer, make_app
from xorca.runtime.logs import configure_logging
from xorca.runtime.settings import ServiceSettings

__all__ = [
    "Bootstrap",
    "Exposition",
    "Probed",
    "Service",
    "exit_status",
    "run_process",
    "run_until_signalled",
    "serve",
]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Service(Protocol):
    """What `serve` runs."""

    async def run(self) -> None:
        """Serve until `stop` (then return, drained) or cancellation (a kill: nothing said)."""

    def stop(self) -> None:
        """Ask `run` to return cleanly, soon."""


class Exposition(Protocol):
    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""


class Probed(Service, Protocol):
    """A service with its own health and metrics endpoint."""

    #: where `serve` opened it (None: nowhere, ``XORCA_HTTP_PORT=-1``)
    http: HttpServer | None

    @property
    def metrics(self) -> Exposition: ...

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether ``/readyz`` says ready, and the body it answers with."""


S = TypeVar("S", bound=Service)
P = TypeVar("P", bound=Probed)
S_co = TypeVar("S_co", bound=Service, covariant=True)
T_contra = TypeVar("T_contra", bound=ServiceSettings, contravariant=True)
T = TypeVar("T", bound=ServiceSettings)


class Bootstrap(Protocol[T_contra, S_co]):
    """A service's ``bootstrap.run``: serves with ``settings`` until the service it hands to
    ``started`` is stopped, or until cancelled."""

    def __call__(
        self, settings: T_contra, /, *, started: Callable[[S_co], None] | None = None
    ) -> Awaitable[None]: ...


@overload
async def serve(
    service: P,
    *,
    name: str,
    health: tuple[str, int],
    started: Callable[[P], None] | None = None,
) -> None: ...


@overload
async def serve(service: S, *, name: str, started: Callable[[S], None] | None = None) -> None: ...


async def serve(
    service: Service,
    *,
    name: str,
    health: tuple[str, int] | None = None,
    started: Callable[[Any], None] | None = None,
) -> None:
    """Run ``service`` until it returns: first its health endpoint on ``health`` (host, port;
    port 0: any free one, -1: none), then ``started(service)``, then `Service.run`; the endpoint
    is closed after it. ``name`` is the service in the log."""
    http: HttpServer | None = None
    if health is not None and health[1] >= 0:
        probed = cast(Probed, service)
        http = HttpServer(make_app(probed.readiness, probed.metrics.exposition), *health)
        await http.start()
        probed.http = http
        log.info("%s: health and metrics on %s", name, http.url)
    try:
        if started is not None:
            started(service)
        await service.run()
        log.info("%s: stopped", name)
    finally:
        if http is not None:
            await http.stop()


async def run_until_signalled(run: Bootstrap[T, Service], settings: T) -> None:
    """``run(settings)``, stopped cleanly by SIGINT or SIGTERM (see the module docstring)."""
    loop = asyncio.get_running_loop()
    services: list[Service] = []
    stopping = False
    main = asyncio.current_task()

    def started(service: Service) -> None:
        services.append(service)
        if stopping:  # the signal came while starting, and its cancellation was lost
            service.stop()

    def stop() -> None:
        nonlocal stopping
        stopping = True
        if services:
            services[0].stop()
        elif main is not None:
            main.cancel()  # still starting: nothing to drain

    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run(settings, started=started)
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


def run_process(
    run: Bootstrap[T, Service],
    settings: T,
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """A service's whole process (``python -m xorca.<service>``): logs as ``settings`` say, then
    `run_until_signalled` in an event loop of its own (``loop_factory``'s, if given)."""
    configure_logging(settings.log_level, json=settings.log_json)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(run_until_signalled(run, settings))


def exit_status(
    main: Callable[[], object], fatal: Mapping[type[Exception], tuple[int, str]]
) -> int:
    """The exit status of a process that runs ``main()``: 0 once it returned; after an error of
    one of ``fatal``'s types (one a person must fix: no key, no store), the status it maps to,
    having said ``error: <what it maps to><the error>`` on stderr. Any other error is raised."""
    try:
        main()
    except tuple(fatal) as e:
        status, what = next(found for kind, found in fatal.items() if isinstance(e, kind))
        sys.stderr.write(f"error: {what}{e}\n")
        return status
    return 0
