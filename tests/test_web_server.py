"""`barriosms web` as a process: listens, answers, and stops cleanly on SIGTERM with connections open."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys

import pytest

from barriosms.sim.rig import wait_for

pytestmark = pytest.mark.slow


def test_sigterm_stops_the_site_even_with_keep_alive_connections_open(db, tmp_path):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[web]\nlisten = 127.0.0.1:0\n")
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "barriosms", "--config", str(ini), "web"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        url = wait_for(lambda: re.findall(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text()), 30,
                       "the site to listen")
        port = int(url[-1])
        browsers = []
        for _ in range(3):  # what a browser leaves behind: idle keep-alive connections
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/salud")
            answer = conn.getresponse()
            assert answer.status == 200 and answer.read()
            browsers.append(conn)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "website stopping" in text and "Traceback" not in text and "did not end" not in text
