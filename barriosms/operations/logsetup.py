"""Logging handlers, set up once by the entry point (library modules only get loggers)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# sd-daemon(3): a line that starts with "<N>" is logged by journald with syslog priority N, so that
# `journalctl -u barriosms -p warning` shows only what needs a person.
PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    """No timestamp (the journal stamps each line) and the priority on every line, tracebacks too:
    journald reads a stream line by line, and an unprefixed line would count as the default level."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (a custom level takes that of the level below it)."""
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return PRIORITIES[logging.DEBUG]


def to_journal(stream: TextIO) -> bool:
    """Whether `stream` is connected to the journal: systemd sets JOURNAL_STREAM to "device:inode"
    of the stream it gave us, so a redirected stderr (or a child that inherited the variable) is not
    taken for it."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    if to_journal(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO: that is one line a second for the outbox job.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
