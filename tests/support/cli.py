"""The ``xorca`` command in a process of its own, as a user runs it: its path in this virtual
environment, its stdout read line by line, and Ctrl-C."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
from pathlib import Path

XORCA = str(Path(sys.executable).parent / "xorca")


def read_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """The next line of stdout, read in a thread: select() cannot see lines already buffered."""
    assert process.stdout is not None
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(process.stdout.readline)
        try:
            line = future.result(timeout)
        except concurrent.futures.TimeoutError:
            process.kill()
            raise AssertionError("no line in time") from None
    if not line:
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"exited with {process.wait(10)}: {stderr}")
    return line


def stop(process: subprocess.Popen[str]) -> int:
    """Ctrl-C (SIGINT), and the exit code."""
    process.send_signal(signal.SIGINT)
    return process.wait(20)
