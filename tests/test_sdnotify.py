"""The sd_notify client against a socket bound where systemd would listen (the daemon's use of it is
in test_daemon.py)."""

from __future__ import annotations

import logging
import select
import socket
import time
import uuid

import pytest

from barriosms.operations.sdnotify import Notifier, watchdog_interval


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_sends_each_notification_as_one_datagram(listener):
    path, sock = listener
    notify = Notifier({"NOTIFY_SOCKET": path})
    assert notify.ready("modem connected on /dev/ttyUSB0")
    assert sock.recv(4096) == b"READY=1\nSTATUS=modem connected on /dev/ttyUSB0"
    assert notify.status("two\nlines")  # a newline would start another field
    assert sock.recv(4096) == b"STATUS=two lines"
    assert notify.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notify.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    assert notify.reloading()
    first, second = sock.recv(4096).decode().split("\n")
    assert first == "RELOADING=1" and second.startswith("MONOTONIC_USEC=") and int(second.split("=")[1]) > 0


def test_abstract_socket_name():
    name = f"barriosms-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_notify_socket_nothing_happens(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    for notify in (Notifier(), Notifier({})):
        assert not notify.enabled
        assert notify.ready("x") is False and notify.watchdog() is False and notify.stopping() is False


def test_a_failure_is_logged_once_and_never_raised(tmp_path, caplog):
    gone = str(tmp_path / "nobody-listens")
    notify = Notifier({"NOTIFY_SOCKET": gone})
    with caplog.at_level(logging.DEBUG, logger="barriosms.operations.sdnotify"):
        assert notify.watchdog() is False
        assert notify.watchdog() is False
        assert notify.ready() is False
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert gone in caplog.records[0].getMessage()


def test_a_full_queue_never_blocks(listener, caplog):
    path, sock = listener  # systemd busy: nobody reads
    notify = Notifier({"NOTIFY_SOCKET": path})
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="barriosms.operations.sdnotify"):
        taken = [notify.watchdog() for _ in range(200)]
    assert time.monotonic() - started < 1
    assert taken[0] and not taken[-1]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    while sock.recv(4096):  # read again: taken again
        if not select.select([sock], [], [], 0)[0]:
            break
    assert notify.watchdog()


def test_an_address_that_is_neither_path_nor_abstract_is_ignored(caplog):
    with caplog.at_level(logging.WARNING, logger="barriosms.operations.sdnotify"):
        notify = Notifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notify.enabled and notify.ready() is False
    assert "vsock:2:1234" in caplog.text


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, None),
])
def test_watchdog_interval(env, expected):
    assert watchdog_interval(env, pid=4242) == expected


def test_watchdog_interval_reads_the_environment_and_our_pid(monkeypatch):
    import os

    monkeypatch.setenv("WATCHDOG_USEC", "500000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 0.5
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None
