"""bench/web_rps.py runs: at a toy size in CI, so a broken benchmark is seen before someone needs it.

Not a speed check (speed is never asserted in tests): every scenario and page is served, and
every answer is a 200 (the script exits 1 when any request failed).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_web_rps_serves_every_scenario_and_page_without_an_error():
    proc = subprocess.run([sys.executable, "bench/web_rps.py", "--cases", "300", "--seconds", "0.5", "--warmup", "0.1",
                           "--clients", "2", "--page-runs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    rows = [line for line in proc.stdout.splitlines() if re.search(r"\s200: \d+$", line)]
    for wanted in ("follow page", "map data", "/casos?pagina=2000", "/barrio/", "/open311/v2/requests.json"):
        assert any(wanted in row for row in rows), proc.stdout
    for row in rows:  # requests, then errors: each scenario sent some, and none failed
        requests, errors = re.search(r"\s([\d,]+)\s+([\d,]+)\s+(?:-|[\d.]+)\s", row).groups()
        assert int(requests.replace(",", "")) > 0 and errors == "0", row
    assert "Gammu" in proc.stdout and "300 cases" in proc.stdout
