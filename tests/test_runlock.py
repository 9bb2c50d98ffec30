"""One daemon per database: the flock on <database>.lock, who holds it, and a holder that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from barriosms import config
from barriosms.operations import runlock

# A process that holds the lock until it is killed; it says "held" once it does.
HOLDER = textwrap.dedent("""
    import sys, time
    from barriosms.operations import runlock
    with runlock.hold(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder_process(tmp_path):
    """Start a process holding the lock on tmp_path/b.db; yields it, kills it at the end."""
    procs = []

    def start(db_path):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_a_second_holder_is_refused_at_once_naming_the_pid(tmp_path):
    db = tmp_path / "b.db"
    with runlock.hold(db) as path:
        assert path == tmp_path / "b.db.lock"
        # flock belongs to the open file description: a second open, even in this process, is refused.
        with pytest.raises(runlock.AlreadyRunning) as refused:
            with runlock.hold(db):
                pass
        assert refused.value.pid == os.getpid()
        assert f"pid {os.getpid()}" in str(refused.value) and "systemctl stop barriosms" in str(refused.value)
    with runlock.hold(db):  # released when the block ends
        pass


def test_holder_reports_the_pid_and_nobody_after_release(tmp_path):
    db = tmp_path / "b.db"
    assert runlock.holder(db) is None  # no lock file yet: no daemon ever ran here
    with runlock.hold(db):
        assert runlock.holder(db) == os.getpid()
        assert runlock.holder(db) == os.getpid()  # looking does not take it away
    assert runlock.holder(db) is None
    assert (tmp_path / "b.db.lock").exists()  # kept: deleting it could let two processes lock two files


def test_the_lock_of_a_killed_process_is_released_by_the_kernel(tmp_path, holder_process):
    db = tmp_path / "b.db"
    proc = holder_process(db)
    assert runlock.holder(db) == proc.pid
    with pytest.raises(runlock.AlreadyRunning, match=f"pid {proc.pid}"):
        with runlock.hold(db):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert runlock.holder(db) is None
    with runlock.hold(db):  # no stale lock to clean up by hand
        assert runlock.holder(db) == os.getpid()


def test_an_unwritable_folder_is_explained(tmp_path):
    with pytest.raises(runlock.LockUnavailable, match="cannot open the lock file"):
        with runlock.hold(tmp_path / "missing-folder" / "b.db"):
            pass


def test_a_second_daemon_on_the_same_database_exits_2_before_touching_the_modem(db, tmp_path, holder_process, caplog):
    from fakemodem import FakeModem

    from barriosms.daemon.process import Daemon

    ini = tmp_path / "b.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/fake\n")
    proc = holder_process(db)
    modem = FakeModem()
    daemon = Daemon(config.load(ini), modem_factory=lambda s: modem)
    assert daemon.run() == 2
    assert not modem.connected and not daemon.thread.is_alive()
    assert any(f"pid {proc.pid}" in r.getMessage() for r in caplog.records)
