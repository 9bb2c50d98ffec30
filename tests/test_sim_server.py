"""`barriosms sim serve` as a process: the paths it is given (--device, --control, --trace) and what it
may delete there. It replaces only what it made itself (its symlink, a stale socket of its kind) and
refuses, leaving them alone, files that are someone else's."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from barriosms.sim import control


def serve(folder: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "barriosms", "sim", "serve", *args], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ready_line(proc: subprocess.Popen, seconds: float = 20) -> str:
    readable, _, _ = select.select([proc.stdout], [], [], seconds)
    return proc.stdout.readline() if readable else ""


def stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        stop(proc)


def test_a_file_at_the_control_path_is_refused_and_kept(tmp_path, procs):
    """`--control` naming a regular file (a database, by a slip) used to be deleted to make the socket."""
    precious = tmp_path / "barriosms.db"
    precious.write_bytes(b"SQLite format 3\x00 the real cases")
    proc = serve(tmp_path, "--device", str(tmp_path / "modem"), "--control", str(precious))
    procs.append(proc)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        code = None  # it went on serving: the file was replaced by its socket
    assert code not in (None, 0)
    _, _, err = stop(proc)
    assert str(precious) in err and "not a socket" in err and "--control" in err
    assert precious.read_bytes() == b"SQLite format 3\x00 the real cases"
    assert not (tmp_path / "modem").is_symlink()  # refused before anything was made


def test_a_control_socket_another_modem_serves_is_not_taken_over(tmp_path, procs):
    first = serve(tmp_path, "--device", str(tmp_path / "one"), "--control", str(tmp_path / "c"))
    procs.append(first)
    assert "simulated modem on" in ready_line(first)
    second = serve(tmp_path, "--device", str(tmp_path / "two"), "--control", str(tmp_path / "c"))
    procs.append(second)
    try:
        code = second.wait(timeout=20)
    except subprocess.TimeoutExpired:
        code = None
    assert code not in (None, 0)
    assert "another simulated modem" in stop(second)[2]
    assert control.send_request(str(tmp_path / "c"), {"cmd": "status"}, timeout=5)["ok"]  # the first still answers


def test_a_stale_control_socket_is_replaced(tmp_path, procs):
    """A socket left by a modem killed with SIGKILL is ours to replace: nothing listens on it."""
    stale = tmp_path / "c"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    proc = serve(tmp_path, "--device", str(tmp_path / "modem"), "--control", str(stale))
    procs.append(proc)
    assert "simulated modem on" in ready_line(proc)
    assert control.send_request(str(stale), {"cmd": "status"}, timeout=5)["ok"]
    assert stop(proc)[0] == 0 and not stale.exists()


def test_a_file_named_like_its_temporary_link_is_left_alone(tmp_path, procs):
    """The symlink is made under a temporary name first: `modem.tmp` used to be deleted whatever it was."""
    mine = tmp_path / "modem.tmp"
    mine.write_text("keep me")
    proc = serve(tmp_path, "--device", str(tmp_path / "modem"), "--control", str(tmp_path / "c"))
    procs.append(proc)
    assert "simulated modem on" in ready_line(proc)
    assert (tmp_path / "modem").is_symlink()
    assert stop(proc)[0] == 0
    assert mine.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modem.tmp"]  # nothing of the modem's left


def test_trace_dash_is_standard_output(tmp_path, procs):
    proc = serve(tmp_path, "--device", str(tmp_path / "modem"), "--control", str(tmp_path / "c"), "--trace", "-")
    procs.append(proc)
    assert "simulated modem on" in ready_line(proc)
    port = os.open(os.readlink(tmp_path / "modem"), os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(port)
        os.write(port, b"AT\r")
        said, deadline = b"", time.monotonic() + 10
        while b"OK" not in said and time.monotonic() < deadline:
            if select.select([port], [], [], 0.5)[0]:
                said += os.read(port, 100)
    finally:
        os.close(port)
    assert b"OK" in said
    code, out, _ = stop(proc)
    assert code == 0
    lines = out.splitlines()
    assert any(line.split(" ", 2)[1:] == ["in", " b'AT\\r'"] for line in lines), out
    assert any(" out " in line and "OK" in line for line in lines), out
    assert not (tmp_path / "-").exists()
