"""SystemdNotifier against real unix datagram sockets standing in for systemd's notify socket."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.operate.sdnotify import STATUS_MAX, SystemdNotifier, clean_status


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def test_sends_ready_status_watchdog_stopping(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    notifier.ready("polling 3 sources")
    assert receive(sock) == "READY=1\nSTATUS=polling 3 sources"
    notifier.status("2 feeds failing")
    assert receive(sock) == "STATUS=2 feeds failing"
    notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    notifier.stopping()
    assert receive(sock) == "STOPPING=1"
    notifier.ready()
    assert receive(sock) == "READY=1"
    notifier.close()


def test_status_is_one_clean_short_line(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    notifier.status("line one\nWATCHDOG=1\r\n\tend\x00\x1b[31m")
    assert receive(sock) == "STATUS=line one WATCHDOG=1 end [31m"
    notifier.status("ä" * 500)
    message = receive(sock)
    assert message == "STATUS=" + "ä" * STATUS_MAX
    notifier.status("\n\x07 ")  # nothing left to say: nothing is sent
    notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    notifier.close()


def test_clean_status() -> None:
    assert clean_status("  a\x85b\x7fc  ") == "a b c"
    assert clean_status("x" * 199 + " yz") == "x" * 199
    assert len(clean_status("y" * 1000)) == STATUS_MAX


def test_abstract_namespace_socket() -> None:
    name = f"india-japan-monitor-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.enabled
        notifier.ready("up")
        assert receive(sock) == "READY=1\nSTATUS=up"
        notifier.stopping()
        assert receive(sock) == "STOPPING=1"
        notifier.close()
    finally:
        sock.close()


def test_reads_process_environment_by_default(
    listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = SystemdNotifier()
    notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    notifier.close()


def test_without_notify_socket_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    for notifier in (SystemdNotifier(), SystemdNotifier({})):
        assert not notifier.enabled
        notifier.ready("up")
        notifier.status("still up")
        notifier.watchdog()
        notifier.stopping()
        notifier.close()
        assert notifier._sock is None


def test_unsupported_socket_address_is_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.sdnotify"):
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    notifier.ready("up")
    assert notifier._sock is None
    assert "not supported" in caplog.text


def test_dead_socket_never_raises_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A socket file nobody listens on any more (ECONNREFUSED), and a path that does not exist.
    stale = tmp_path / "stale.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(stale))
    sock.close()
    for path in (str(stale), str(tmp_path / "missing.sock")):
        caplog.clear()
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
        with caplog.at_level(logging.DEBUG, logger="monitor.sdnotify"):
            notifier.ready("up")
            notifier.watchdog()
            notifier.stopping()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert getattr(warnings[0], "socket", None) == path
        assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 2
        notifier.close()


def test_close_stops_sending(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    notifier.watchdog()
    assert receive(sock) == "WATCHDOG=1"
    notifier.close()
    assert not notifier.enabled
    notifier.watchdog()
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recv(4096)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "120000000"}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid())}, 60.0),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "120000000", "WATCHDOG_PID": "nope"}, None),
        ({"WATCHDOG_USEC": "500000"}, 0.25),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert SystemdNotifier(env).watchdog_interval() == expected
