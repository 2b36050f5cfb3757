"""sd_notify(3) without libsystemd: READY, STATUS, WATCHDOG and STOPPING datagrams to systemd.

Reads: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID. Without NOTIFY_SOCKET every call does nothing.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger("monitor.sdnotify")

STATUS_MAX = 200  # characters of STATUS= text kept
SEND_TIMEOUT = 1.0  # seconds a send may block when systemd's queue is full

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def clean_status(text: str) -> str:
    """One line for STATUS=: runs of control characters become one space, at most 200 chars."""
    return _CONTROL.sub(" ", text).strip()[:STATUS_MAX].rstrip()


def _address(value: str) -> str | None:
    """The socket address for NOTIFY_SOCKET: a path, or '@name' for the abstract namespace."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None


class SystemdNotifier:
    """Talks to the service manager; every method is a no-op when not started by systemd.

    Send errors are never raised: the first one is logged at warning, later ones at debug.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        source = os.environ if env is None else env
        raw = source.get("NOTIFY_SOCKET", "")
        self._address = _address(raw) if raw else None
        if raw and self._address is None:
            log.warning("NOTIFY_SOCKET not supported; not notifying", extra={"socket": raw})
        self._watchdog_usec = source.get("WATCHDOG_USEC")
        self._watchdog_pid = source.get("WATCHDOG_PID")
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True while there is a notification socket to send to (not after close())."""
        return self._address is not None

    def ready(self, status: str = "") -> None:
        """Start-up finished (READY=1), with an optional STATUS= line."""
        self._send("READY=1", status)

    def status(self, text: str) -> None:
        """Free-form state shown by `systemctl status` (single line, at most 200 characters)."""
        self._send(None, text)

    def watchdog(self) -> None:
        """Keep-alive ping (WATCHDOG=1); send it every watchdog_interval() seconds."""
        self._send("WATCHDOG=1", "")

    def stopping(self) -> None:
        """Shutdown began (STOPPING=1)."""
        self._send("STOPPING=1", "")

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings: half of WATCHDOG_USEC, or None when the watchdog is off.

        None too when WATCHDOG_PID names another process (the variable was inherited).
        """
        try:
            usec = int(self._watchdog_usec or "0")
        except ValueError:
            return None
        if usec <= 0:
            return None
        if self._watchdog_pid:
            try:
                if int(self._watchdog_pid) != os.getpid():
                    return None
            except ValueError:
                return None
        return usec / 2 / 1_000_000

    def close(self) -> None:
        """Close the socket; later calls do nothing."""
        with self._lock:
            self._address = None
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _send(self, field: str | None, status: str) -> None:
        lines = [field] if field else []
        text = clean_status(status)
        if text:
            lines.append(f"STATUS={text}")
        if not lines:
            return
        payload = "\n".join(lines).encode("utf-8", "replace")
        with self._lock:
            if self._address is None:
                return
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.settimeout(SEND_TIMEOUT)
                self._sock.sendto(payload, self._address)
            except OSError as exc:
                self._report(exc)

    def _report(self, exc: OSError) -> None:
        socket_name = (self._address or "").replace("\0", "@")
        extra = {"socket": socket_name, "error": str(exc)}
        if self._warned:
            log.debug("sd_notify failed", extra=extra)
        else:
            self._warned = True
            log.warning("sd_notify failed; systemd may not see readiness or watchdog", extra=extra)
