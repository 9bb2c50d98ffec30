"""A small sd_notify(3) client: tells systemd (Type=notify) that barriosms is ready, reloading,
stopping, still alive (the watchdog) and what it is doing (the STATUS line of `systemctl status`).

Pure Python, no dependency: one datagram on the AF_UNIX socket named by NOTIFY_SOCKET (a path, or
an abstract name when it starts with "@"). Without NOTIFY_SOCKET (run by hand, in tests) every call
returns at once and does nothing. A failure is logged once and never raised: systemd's bookkeeping
must not stop a gateway that works.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to systemd; cheap no-ops when not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.name = env.get("NOTIFY_SOCKET", "")
        self.address = _address(self.name)
        self._sock: socket.socket | None = None
        self._failing = False
        if self.address is not None:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never wait on systemd: with its queue full (PID 1 busy or re-executing) a blocking
                # send would freeze the daemon's main thread. A lost datagram is only a lost datagram.
                self._sock.setblocking(False)
            except OSError as exc:
                self._fail(exc)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """Send `KEY=value` fields in one datagram; True if systemd's socket took it (at once)."""
        if self._sock is None:
            return False
        assert self.address is not None  # the socket exists only for an address
        try:
            self._sock.sendto("\n".join(fields).encode("utf-8", "replace"), self.address)
        except OSError as exc:
            self._fail(exc)
            return False
        self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status(status))

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def reloading(self, status: str | None = None) -> bool:
        # MONOTONIC_USEC: systemd 253+ (Type=notify-reload) matches the READY=1 that ends the reload.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", *_status(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _fail(self, exc: OSError) -> None:
        # Once per change from working to failing: a ping every few seconds must not fill the journal.
        if not self._failing:
            log.warning("cannot notify systemd on %s: %s", self.name, exc)
            self._failing = True


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """systemd's watchdog timeout in seconds (WatchdogSec=), or None when no watchdog watches us.

    WATCHDOG_PID, when set, names the process the watchdog is meant for: a child that inherited the
    variables must not ping on its parent's behalf.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # Linux abstract namespace
    if value.startswith("/"):
        return value
    # vsock: and other kinds systemd may offer to containers: not for a gateway on a Pi.
    log.warning("NOTIFY_SOCKET=%s is not a path or an abstract socket name: not notifying systemd", value)
    return None


def _status(text: str | None) -> tuple[str, ...]:
    # One line: a newline would start another KEY=value field.
    return (f"STATUS={' '.join(text.split())}",) if text else ()
