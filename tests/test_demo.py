"""`./scripts/demo` without a terminal plays its scripted conversation and cleans up after itself."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_scripted_demo_runs_and_exits_0(tmp_path):
    folder = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "barriosms.demo", "--folder", str(folder)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    tracking = re.search(r"Numero: (\d{7})", out).group(1)
    assert f"resident +59171234567 | {tracking}" in out  # the status query
    assert "in_progress" in out and "La cuadrilla ira el lunes" in out
    assert "falta el barrio" in out  # the two-step report, completed by the name "Sopocachi"
    assert len(re.findall(r"Numero: \d{7}", out)) == 2 and "Barrio Sopocachi (residuos)" in out
    # The web report: the number shown on the page is the one that arrived by SMS.
    web = re.search(r"website \| \S+/caso/(\d{7})\?nuevo=1&sms=1: numero (\d{7})", out)
    assert web and web.group(1) == web.group(2)
    assert f"gateway -> +59170000123 | Alcaldia: recibimos su reclamo web, numero {web.group(1)}" in out
    assert "exit codes {'web': 0, 'daemon': 0, 'sim': 0}" in out
    assert not (folder / "modem").exists() and not (folder / "modem.control").exists()
