"""What python-gammu prints, said in our words through logging.

python-gammu keeps the notifications Gammu hands it (a new SMS, a call, a cell broadcast, a USSD
answer) in fixed queues of MAX_EVENTS = 10 places each (gammu/src/gammu.c, unchanged from 3.2.4 to
3.5.x) and gives them to Python one per StateMachine call, at the end of each call
(END_PHONE_COMM -> CheckIncomingEvents). Every `+CMTI` line the modem sends is one notification, so
when more than ten arrive within one call (a burst of SMS read by one ReadDevice, or held by the
modem while it was busy sending and released together) the rest are dropped, each with the line
`python-gammu: ERROR: Incoming SMS queue overflow!`.

Nothing is lost by that: GammuModem treats a notification only as "something came" and reads the
whole SIM, and a full queue means ten more notifications (ten more reads) are still to come. But the
line is printed with C's printf on C's `stdout`, not through Python: it reaches the journal without
a priority, without saying that nothing was lost, and late: C's stdout is fully buffered when it is
not a terminal (unless Python runs unbuffered, -u or PYTHONUNBUFFERED), so under systemd the lines
come 4 KiB at a time or when the daemon exits, and not at all if it is killed.

So the daemon's entry point hands C's `stdout` a pipe of its own (only the FILE* that C code writes
to: file descriptor 1, Python's sys.stdout and child processes are left alone), and a thread reads it
and logs each line in our words, a burst of dropped notifications as one WARNING with the count.
Avoiding the overflow instead is not possible from here: python-gammu offers no way to size its
queue or to have Gammu call us directly, a `+CNMI` setting that announces several messages at once
does not exist (27.005 gives one `+CMTI` per stored message; Gammu picks the mode itself), and
draining the queue with extra calls costs ~50 ms per ReadDevice and still cannot help when the
burst arrives within one call.

Only on glibc (Raspberry Pi OS, Debian; python-gammu's wheels need it too), where `stdout` is an
ordinary variable that a program may set; elsewhere nothing is changed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import select
import threading
import time
from collections import Counter

log = logging.getLogger(__name__)

# python-gammu's MAX_EVENTS: the notifications of each kind it can hold between two calls.
QUEUE_PLACES = 10
# Dropped notifications are told as one line per burst: once no more came for this long, or this
# long after the first one if they never stop.
QUIET_SECONDS = 0.5
LONGEST_SECONDS = 30.0

_IOLBF = 1  # <stdio.h> on glibc: flush at each newline
_LINE = re.compile(r"python-gammu: (?:ERROR|WARNING): (.*)")
_OVERFLOW = re.compile(r"Incoming (SMS|call|CB|USSD) queue overflow!")
_DISCARDED_SMS = re.compile(r"Discarding incoming SMS event due to (.*)!")

# What each kind of dropped notification means for barriosms, and whether anyone has to act.
_DROPPED = {
    "SMS": ("the modem announced more new SMS at once than python-gammu can queue: its queue of {kept} "
            "notifications was full and it dropped {n} more (python-gammu's \"Incoming SMS queue overflow!\"). "
            "No SMS is lost: one notification is enough for barriosms to read the whole SIM, which it also "
            "reads on a timer; nothing to do"),
    "USSD": ("python-gammu dropped {n} USSD answer(s) (its queue keeps {kept}): a USSD request or balance "
             "check may time out; it can simply be tried again"),
    "call": "python-gammu dropped {n} incoming-call notification(s) (barriosms does not use them); nothing to do",
    "CB": "python-gammu dropped {n} cell-broadcast notification(s) (barriosms does not use them); nothing to do",
}


def _glibc() -> ctypes.CDLL | None:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError):
        return None  # not glibc: its `stdout` may be a constant that must not be written
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fdopen.restype = ctypes.c_void_p
    libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
    libc.setvbuf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t]
    libc.fflush.argtypes = [ctypes.c_void_p]
    return libc


class GammuOutput:
    """C's `stdout` into logging, from start() until close(); see the module docstring."""

    def __init__(self, quiet: float = QUIET_SECONDS, longest: float = LONGEST_SECONDS):
        self.quiet, self.longest = quiet, longest
        self._libc: ctypes.CDLL | None = None
        self._stdout: ctypes.c_void_p | None = None  # libc's variable `stdout`
        self._original: int | None = None
        self._fp: int | None = None
        self._read = self._wake_read = self._wake_write = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._dropped: Counter[str] = Counter()
        self._first = self._last = 0.0

    def start(self) -> bool:
        """Take over C's stdout; False (and nothing changed) where that cannot be done safely."""
        libc = _glibc()
        try:
            stdout = ctypes.c_void_p.in_dll(libc, "stdout") if libc is not None else None
        except ValueError:
            stdout = None
        if libc is None or stdout is None:
            log.debug("not glibc: python-gammu's messages stay on standard output as it prints them")
            return False
        read, write = os.pipe()
        # Never block the thread that prints: that is the modem thread, sometimes holding the GIL
        # that this reader needs, so a full pipe would hang the gateway. A full pipe (64 KiB unread,
        # over a thousand lines) drops lines instead.
        os.set_blocking(write, False)
        fp = libc.fdopen(write, b"w")
        if not fp:
            os.close(read)
            os.close(write)
            log.debug("fdopen failed (errno %d): python-gammu's messages stay on standard output", ctypes.get_errno())
            return False
        libc.setvbuf(fp, None, _IOLBF, 0)  # each line reaches us when it is printed, not 4 KiB later
        self._libc, self._fp, self._read = libc, fp, read
        self._wake_read, self._wake_write = os.pipe()
        self._stdout = stdout
        self._original = self._stdout.value
        libc.fflush(self._original)  # what C code printed before goes where it always went
        self._stdout.value = fp
        self._thread = threading.Thread(target=self._run, name="gammu-output", daemon=True)
        self._thread.start()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Give C's stdout back and log what is still pending (a burst's count)."""
        if self._thread is None or self._libc is None or self._stdout is None:
            return
        if self._stdout.value == self._fp:
            self._stdout.value = self._original
        self._libc.fflush(self._fp)
        # The FILE is left open on purpose: another thread may have read the pointer just before it
        # was given back, and fclose would free it under that thread's printf. Its pipe has no
        # reader after this, so such a late line fails with EPIPE (Python ignores SIGPIPE).
        self._stop.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else it may still select() on them: leave them open
            for fd in (self._read, self._wake_read, self._wake_write):
                os.close(fd)
        self._thread = None

    def __enter__(self) -> GammuOutput:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the reader thread ------------------------------------------------------------------------

    def _run(self) -> None:
        partial = b""
        while True:
            ready, _, _ = select.select([self._read, self._wake_read], [], [], self._wait())
            if self._read in ready:
                chunk = os.read(self._read, 65536)
                if not chunk:
                    break  # every writer is gone (cannot happen while the FILE stays open)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    self._line(line.decode("utf-8", "replace").rstrip("\r"))
            if self._stop.is_set() and self._read not in ready:
                break  # given back and drained: what a last printf sent has been read
            self._tell_dropped(force=False)
        if partial:
            self._line(partial.decode("utf-8", "replace"))
        self._tell_dropped(force=True)

    def _wait(self) -> float | None:
        if not self._dropped:
            return None
        now = time.monotonic()
        return max(0.0, min(self._last + self.quiet, self._first + self.longest) - now)

    def _line(self, line: str) -> None:
        if not line.strip():
            return
        said = _LINE.fullmatch(line)
        if said is None:
            log.info("printed by a C library on standard output: %s", line)
            return
        discarded = _DISCARDED_SMS.fullmatch(said.group(1))
        if discarded is not None:
            log.warning("python-gammu dropped a new-SMS notification (%s). No SMS is lost: the SIM is read after "
                        "any other notification and on a timer; nothing to do", discarded.group(1))
            return
        overflow = _OVERFLOW.fullmatch(said.group(1))
        if overflow is None:
            log.warning("python-gammu (the library barriosms talks to the modem through) said: %s", said.group(1))
            return
        now = time.monotonic()
        if not self._dropped:
            self._first = now
        self._last = now
        self._dropped[overflow.group(1)] += 1

    def _tell_dropped(self, *, force: bool) -> None:
        if not self._dropped:
            return
        now = time.monotonic()
        if not force and now < self._last + self.quiet and now < self._first + self.longest:
            return
        for kind, n in sorted(self._dropped.items()):
            log.warning("%s", _DROPPED[kind].format(n=n, kept=QUEUE_PLACES))
        self._dropped.clear()


def capture() -> GammuOutput | None:
    """From now on, what python-gammu prints is logged in our words (the daemon's entry point)."""
    output = GammuOutput()
    return output if output.start() else None
