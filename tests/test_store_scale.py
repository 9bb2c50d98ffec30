"""bench/store_scale.py runs: a benchmark nobody runs breaks unseen, so CI runs it at a toy size.

The figures themselves are not checked (speed is never asserted in tests): only that every
command ran and was measured, and that `--json` prints one JSON object and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_store_scale_measures_every_command_and_its_json_is_one_object():
    proc = subprocess.run([sys.executable, "bench/store_scale.py", "--cases", "300", "--runs", "1", "--intake", "5",
                           "--idle", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # the seeding's and the progress lines go to stderr
    assert report["cases"] == 300 and report["gammu"] and report["machine"]
    names = [c["command"] for c in report["commands"]]
    for wanted in ("--help", "cases list --limit 50", "cases show", "inbox list --limit 50", "stats",
                   "report hotspots", "cases export --format csv", "cases export --format geojson"):
        assert wanted in names, names
    assert all(c["median_s"] > 0 and c["peak_rss_mib"] > 0 for c in report["commands"])
    assert all(c["cases_per_s"] > 0 for c in report["commands"] if c["command"].startswith("cases export"))
    assert report["intake"]["empty_s"] > 0 and report["intake"]["big_s"] > 0
    assert report["daemon_idle"]["rss_mib"] > 0
    assert "300 cases" in proc.stderr and "satisfaction questions" in proc.stderr
