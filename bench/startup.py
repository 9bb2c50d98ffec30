#!/usr/bin/env python3
"""How long the `barriosms` command takes to start, as whole processes (issue 16: target <= 0.15 s).

Run it with the project's venv:  .venv/bin/python bench/startup.py [--runs 10] [--barriosms PATH]

Times, from fork to exit, `barriosms --help`, `barriosms --version` and `barriosms cases list`
(on a fresh temporary database made by `barriosms db migrate`, with a temporary configuration),
each after one untimed warm-up run (so Python's bytecode caches are written), RUNS times; prints
the median and the range. The console script runs with PYTHONPATH set to this checkout (or to
--pythonpath), so an editable install elsewhere measures this checkout's code; the script prints
which package it ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reply_latency import machine  # noqa: E402  (one description of the machine for every benchmark)


def gammu_version() -> str:
    try:
        import gammu
    except ImportError:
        return "python-gammu not importable"
    return f"Gammu {gammu.Version()[0]} (python-gammu {gammu.Version()[1]})"


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)  # warm-up, untimed
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--barriosms", default=str(Path(sys.executable).parent / "barriosms"),
                        help="the console script (default: the one next to this Python)")
    parser.add_argument("--pythonpath", default=str(ROOT),
                        help="the checkout whose code runs (default: this one)")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": args.pythonpath}
    env.pop("BARRIOSMS_CONFIG", None)
    package = subprocess.run([sys.executable, "-P", "-c", "import barriosms; print(barriosms.__file__)"], env=env,
                             check=True, capture_output=True, text=True).stdout.strip()
    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{gammu_version()}")
    print(f"command: {args.barriosms}, code: {package}, {args.runs} timed runs each after one warm-up")
    with tempfile.TemporaryDirectory(prefix="barriosms-startup-") as folder:
        ini = Path(folder) / "barriosms.ini"
        ini.write_text(f"[database]\npath = {Path(folder) / 'barriosms.db'}\n[modem]\ndevice = /dev/ttyUSB0\n")
        subprocess.run([args.barriosms, "--config", str(ini), "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        commands = {
            "barriosms --help": [args.barriosms, "--help"],
            "barriosms --version": [args.barriosms, "--version"],
            "barriosms cases list": [args.barriosms, "--config", str(ini), "cases", "list"],
        }
        print(f"{'command':24} {'median':>8} {'min':>8} {'max':>8}")
        for name, command in commands.items():
            times = timed(command, env, args.runs)
            print(f"{name:24} {statistics.median(times):7.3f}s {min(times):7.3f}s {max(times):7.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
