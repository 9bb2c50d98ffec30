"""Logging handlers, set up once by the entry point (library modules only get loggers)."""

from __future__ import annotations

import logging
import os
import sys


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        # Under systemd the journal stamps each line itself.
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO: that is one line a second for the outbox job.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
