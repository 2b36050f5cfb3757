"""Starts a benchmark's mirror server as a separate process on a free loopback port.

Reads: the server's Python source and arguments. Writes: nothing; the process is stopped on exit.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mirror(server_source: str, *args: str) -> Iterator[int]:
    """Run `python -c server_source ARGS... PORT`; yield the port once it accepts connections."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", server_source, *args, str(port)])
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("bench mirror server did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait()
