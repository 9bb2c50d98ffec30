"""Log lines for the journal (priority prefix, no timestamp) or for a terminal (timestamp)."""

from __future__ import annotations

import logging
import os
import re

import pytest

from barriosms.operations import logsetup


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    aps = logging.getLogger("apscheduler").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(aps)


def journal_id(fh) -> str:
    st = os.fstat(fh.fileno())
    return f"{st.st_dev}:{st.st_ino}"


@pytest.mark.parametrize("level, prefix", [
    (logging.CRITICAL, "<2>"), (logging.ERROR, "<3>"), (logging.WARNING, "<4>"),
    (logging.INFO, "<6>"), (logging.DEBUG, "<7>"), (25, "<6>"), (5, "<7>"),
])
def test_each_level_has_its_syslog_priority(level, prefix):
    record = logging.LogRecord("barriosms.daemon.process", level, __file__, 1, "modem lost", None, None)
    assert logsetup.JournalFormatter().format(record).startswith(prefix)


def test_every_line_of_a_traceback_keeps_the_priority():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("barriosms.daemon.process", logging.ERROR, __file__, 1, "the modem thread stopped",
                                   None, __import__("sys").exc_info())
    lines = logsetup.JournalFormatter().format(record).splitlines()
    assert lines[0] == "<3>ERROR barriosms.daemon.process: the modem thread stopped"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_under_systemd_lines_carry_the_priority_and_no_timestamp(tmp_path, monkeypatch, restore_logging):
    with open(tmp_path / "journal", "w+") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", journal_id(stream))
        logsetup.configure("DEBUG", stream)
        logging.getLogger("barriosms.daemon.process").warning("lost the modem: %s", "timeout")
        logging.getLogger("barriosms.daemon.process").info("modem connected")
        logging.getLogger("barriosms.daemon.process").debug("detail")
        stream.flush()
        assert (tmp_path / "journal").read_text().splitlines() == [
            "<4>WARNING barriosms.daemon.process: lost the modem: timeout",
            "<6>INFO barriosms.daemon.process: modem connected",
            "<7>DEBUG barriosms.daemon.process: detail",
        ]


def test_elsewhere_lines_keep_their_timestamp(tmp_path, monkeypatch, restore_logging):
    with open(tmp_path / "terminal", "w+") as stream, open(tmp_path / "other", "w") as other:
        # JOURNAL_STREAM inherited, but this stream is not the journal (redirected, or a child process).
        monkeypatch.setenv("JOURNAL_STREAM", journal_id(other))
        logsetup.configure("INFO", stream)
        logging.getLogger("barriosms.daemon.process").warning("lost the modem")
        stream.flush()
        line = (tmp_path / "terminal").read_text().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING barriosms\.daemon\.process: lost the modem", line)
    assert logging.getLogger("apscheduler").level == logging.WARNING


def test_a_stream_without_a_file_is_not_the_journal(monkeypatch):
    import io

    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert logsetup.to_journal(io.StringIO()) is False
    monkeypatch.delenv("JOURNAL_STREAM")
    assert logsetup.to_journal(__import__("sys").stderr) is False
