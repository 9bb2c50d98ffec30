"""One daemon per database: an exclusive flock on `<database>.lock` held for the daemon's whole life.

Two daemons on one database would fight over the modem and answer every SMS twice. The lock is a
`fcntl.flock` on a file beside the database, so the kernel releases it when the holder dies, even
by `kill -9` or a power cut: there is never a stale lock to clean up by hand. The holder writes its
pid into the file so that others can say who holds it.

`hold()` is for the daemon (and `barriosms restore`, which must not run beside one); `holder()` is
for tools that only want to know whether a daemon runs (`barriosms doctor`): it tests the lock with
a shared lock that it drops at once.

The lock file is never deleted: unlinking it while another process opens it would let two
processes lock two different files of the same name.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How long holder() waits for a holder that has just taken the lock to write its pid.
_PID_WAIT_SECONDS = 1.0
# holder() takes a shared lock for an instant; a daemon starting at that very moment retries this
# long before it believes that another process holds the lock.
_LOCK_RETRY_SECONDS = 0.5


class AlreadyRunning(Exception):
    """Someone else holds the lock; `pid` is theirs (0 when it could not be read)."""

    def __init__(self, db_path: Path, pid: int):
        self.pid = pid
        who = f"pid {pid}" if pid else "a process whose pid could not be read"
        super().__init__(
            f"another barriosms process ({who}) already holds {lock_path(db_path)}: a daemon (or a restore) is "
            f"running on the database {db_path}. Stop it first (`sudo systemctl stop barriosms`), or point this "
            "one at another database")


class LockUnavailable(Exception):
    """The lock file cannot be opened or locked at all (permissions, missing folder)."""


def lock_path(db_path: str | os.PathLike) -> Path:
    return Path(str(db_path) + ".lock")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def hold(db_path: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock for the block, or raise AlreadyRunning (after half a second at most)."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise LockUnavailable(f"cannot open the lock file {path}: {exc.strerror}; check that the folder exists "
                              "and that this user may write in it (run as the barriosms user)") from exc
    try:
        if os.geteuid() == 0:  # a restore run with sudo must not leave a lock the daemon cannot open
            st = os.stat(path.parent)
            os.fchown(fd, st.st_uid, st.st_gid)
        if not _try_lock(fd, path):
            raise AlreadyRunning(Path(db_path), _wait_for_pid(fd))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int, path: Path) -> bool:
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockUnavailable(f"cannot lock {path}: {exc.strerror}") from exc
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def holder(db_path: str | os.PathLike) -> int | None:
    """The pid of the process holding the lock, or None when nobody does.

    0 means a process holds it but its pid could not be read (a holder that has only just started,
    or a lock file emptied by hand): test the result with `is None`, not with truthiness.
    """
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # no daemon has ever run on this database
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            return _wait_for_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _wait_for_pid(fd: int) -> int:
    """The pid in the lock file; a holder that has just locked it may not have written it yet."""
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        pid = _read_pid(fd)
        if pid is not None or time.monotonic() >= deadline:
            return pid or 0
        time.sleep(0.02)
