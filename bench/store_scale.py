#!/usr/bin/env python3
"""Staff commands, intake and the idle daemon on a large SQLite store.

Run it with the project's venv:
    .venv/bin/python bench/store_scale.py --cases 1000000 [--runs 5] [--json] [--keep FOLDER]

1. A fresh rig (config and SQLite database, the La Paz neighbourhoods) in a temporary folder, or
   in FOLDER with --keep (a second run with the same --keep and --cases reuses its database), then
   CASES cases with their events, the SMS each SMS case came from and the reply it got
   (bench/seeding.py).
2. Each staff command as staff run it: a whole `python -m barriosms ...` process (start-up
   included), RUNS times; the median wall time and the largest peak RSS (the kernel's ru_maxrss of
   the finished process). Output goes to /dev/null: the terminal is not measured. An export's rate
   is the cases it wrote (merged duplicates are left out) per second of its median.
3. Intake: storing one resident's SMS and opening its case (a transaction each, as the daemon
   does), in this process, on an empty database of the same neighbourhoods and then on the big one:
   the median of --intake messages each.
4. The daemon idle: `barriosms run` on the simulated modem, connected, after --idle seconds
   without traffic; its resident memory (VmRSS) and peak (VmHWM).

Prints the machine, Python and Gammu with the figures; --json prints one JSON object instead.
No figure is asserted: compare runs on the same machine (bench/README.md records them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gammu  # noqa: E402
from reply_latency import machine  # noqa: E402
from seeding import fill  # noqa: E402

from barriosms.modem.interface import ReceivedSms  # noqa: E402
from barriosms.pipeline.intake import Intake, IntakeRules  # noqa: E402
from barriosms.sim.rig import Rig  # noqa: E402
from barriosms.store import database as store  # noqa: E402
from barriosms.templates.loader import load_categories, load_templates  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"


def commands(tracking: str) -> list[tuple[str, list[str]]]:
    """What staff run every day, by name; listings as staff read them, a screenful at a time."""
    return [
        ("--help", ["--help"]),
        ("cases list --limit 50", ["cases", "list", "--limit", "50"]),
        ("cases list --status received --limit 50", ["cases", "list", "--status", "received", "--limit", "50"]),
        ("cases list --neighborhood B12 --limit 50", ["cases", "list", "--neighborhood", "B12", "--limit", "50"]),
        ("cases list --category agua --limit 50", ["cases", "list", "--category", "agua", "--limit", "50"]),
        ("cases list --assignee Alumbrado --limit 50", ["cases", "list", "--assignee", "Alumbrado", "--limit", "50"]),
        ("cases list --has-new-replies", ["cases", "list", "--has-new-replies"]),
        ("cases list --phone (one resident)", ["cases", "list", "--phone", "+59170000001"]),
        ("cases show", ["cases", "show", tracking]),
        ("inbox list --limit 50", ["inbox", "list", "--limit", "50"]),
        ("inbox list --unmatched --limit 50", ["inbox", "list", "--unmatched", "--limit", "50"]),
        ("stats", ["stats"]),
        # A quarter and a year of the rig's cases (seeded over the year before the seeding).
        ("stats --since (90 days ago)", ["stats", "--since", (dt.date.today() - dt.timedelta(days=90)).isoformat()]),
        ("stats --since (a year ago)", ["stats", "--since", (dt.date.today() - dt.timedelta(days=365)).isoformat()]),
        ("report hotspots", ["report", "hotspots"]),
        ("cases export --format csv", ["cases", "export", "--format", "csv"]),
        ("cases export --format geojson", ["cases", "export", "--format", "geojson"]),
    ]


# The runner that starts each command: a bare interpreter (no site, nothing imported), because a
# child's ru_maxrss starts at its parent's resident size when it forks, and this process is big.
RUNNER = """
import json, os, sys, time
runs, args = int(sys.argv[1]), sys.argv[2:]
out = []
for _ in range(runs):
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        try:
            os.execv(args[0], args)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    out.append([time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status)])
print(json.dumps(out))
"""


def run_command(config: Path, args: list[str], runs: int) -> tuple[list[float], list[int]]:
    """Wall seconds and peak RSS (KiB) of `runs` runs of a `barriosms ARGS` process, one after
    another; raises SystemExit with its error when a run fails."""
    env = dict(os.environ, BARRIOSMS_CONFIG=str(config))
    proc = subprocess.run([sys.executable, "-S", "-c", RUNNER, str(runs), sys.executable, "-m", "barriosms", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"the runner failed: {proc.stderr.strip()[-2000:]}")
    results = json.loads(proc.stdout)
    if any(code != 0 for _, _, code in results):
        raise SystemExit(f"barriosms {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return [r[0] for r in results], [r[1] for r in results]


def measure_commands(config: Path, tracking: str, runs: int) -> list[dict]:
    results = []
    for name, args in commands(tracking):
        times, peaks = run_command(config, args, runs)
        results.append({"command": name, "median_s": statistics.median(times), "min_s": min(times),
                        "peak_rss_mib": max(peaks) / 1024})
        print(f"  {name:<44} {statistics.median(times):8.3f} s  {max(peaks) / 1024:7.1f} MiB", file=sys.stderr)
    return results


def intake_cost(database: Path, count: int) -> float:
    """Median seconds to store one SMS and open its case on `database` (which gains `count` cases)."""
    store.open_database(database)
    try:
        intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(3))
        costs = []
        base = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for i in range(count):
            at = base + dt.timedelta(seconds=i)
            sms = ReceivedSms(location=i + 1, sender=f"+5916{i:07d}", text=f"B12 hay un bache grande en la calle {i}",
                              smsc_time=at)
            started = time.perf_counter()
            intake.store(sms, now=at)
            costs.append(time.perf_counter() - started)
    finally:
        store.close()
    return statistics.median(costs)


def daemon_idle(rig: Rig, seconds: float) -> dict:
    rig.start_sim()
    rig.start_daemon()
    time.sleep(seconds)
    assert rig.daemon_proc is not None
    status = Path(f"/proc/{rig.daemon_proc.pid}/status").read_text().splitlines()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
    rig.stop()
    return {"rss_mib": values["VmRSS"] / 1024, "peak_mib": values["VmHWM"] / 1024, "after_s": seconds}


def prepare(folder: Path, cases: int) -> tuple[Rig, str, float]:
    """The rig in `folder`, its database holding `cases` cases; a tracking number; seconds seeding took."""
    rig = Rig(folder, log_level="WARNING")
    marker = folder / "seeded.json"
    if marker.exists() and json.loads(marker.read_text()).get("cases") == cases:
        # A rig kept from an older barriosms gets the newer migrations (their indexes), as an upgrade would.
        applied = rig.cli("db", "migrate", timeout=3600).stdout.strip()
        print(applied, file=sys.stderr)
        return rig, json.loads(marker.read_text())["tracking"], 0.0
    for path in Rig.files_in(folder):
        if path.exists() and path != rig.config:
            path.unlink()
    rig.setup(CSV)
    started = time.perf_counter()
    trackings = fill(rig.database, cases, seed=1, messages=True, out=sys.stderr)
    seeded = time.perf_counter() - started
    marker.write_text(json.dumps({"cases": cases, "tracking": trackings[len(trackings) // 2]}))
    return rig, trackings[len(trackings) // 2], seeded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the big database (default 100000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--intake", type=int, default=50, help="SMS stored to measure the intake (default 50)")
    parser.add_argument("--idle", type=float, default=10, help="seconds the daemon idles before its memory is read")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the rig and its database in this folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.cases < 1 or args.runs < 1 or args.intake < 1:
        parser.error("--cases, --runs and --intake must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="barriosms-scale-"))
    try:
        folder = args.keep.resolve() if args.keep else tmp / "big"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"a rig of {args.cases:,} cases in {folder} (seeded unless --keep already holds it)", file=sys.stderr)
        rig, tracking, seeded = prepare(folder, args.cases)
        size = sum(p.stat().st_size for p in Rig.files_in(folder) if p.exists() and p.name.startswith(Rig.DATABASE))
        print(f"measuring the commands ({args.runs} runs each)", file=sys.stderr)
        results = measure_commands(rig.config, tracking, args.runs)
        exported = int(rig.query('SELECT COUNT(*) FROM "case" WHERE merged_into_id IS NULL')[0][0])
        for r in results:
            if r["command"].startswith("cases export"):
                r["cases_per_s"] = exported / r["median_s"]
        empty = Rig(tmp / "empty", log_level="WARNING")
        empty.setup(CSV)
        print("measuring the intake", file=sys.stderr)
        intake = {"empty_s": intake_cost(empty.database, args.intake),
                  "big_s": intake_cost(rig.database, args.intake), "messages": args.intake}
        print("measuring the idle daemon", file=sys.stderr)
        idle = daemon_idle(rig, args.idle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    report = {"machine": machine(), "gammu": gammu.Version()[0], "python_gammu": gammu.Version()[1],
              "cases": args.cases, "database_mib": size / 2**20, "seeding_s": seeded, "runs": args.runs,
              "commands": results, "intake": intake, "daemon_idle": idle}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"machine: {report['machine']}")
    print(f"gammu: {report['gammu']} (python-gammu {report['python_gammu']})")
    print(f"database: {args.cases:,} cases, {report['database_mib']:.0f} MiB"
          + (f" (seeded in {seeded:.0f} s)" if seeded else " (reused)"))
    print(f"\n{'command (whole process, median of ' + str(args.runs) + ')':<48} {'median':>9} {'peak RSS':>10}  rate")
    for r in results:
        rate = f"  {r['cases_per_s']:,.0f} cases/s" if "cases_per_s" in r else ""
        print(f"{r['command']:<48} {r['median_s']:8.3f} s {r['peak_rss_mib']:7.1f} MiB{rate}")
    print(f"\nintake (store one SMS and open its case, median of {args.intake}): "
          f"{intake['empty_s'] * 1000:.1f} ms on an empty database, {intake['big_s'] * 1000:.1f} ms at {args.cases:,} cases")
    print(f"daemon idle after {idle['after_s']:g} s on the simulated modem: RSS {idle['rss_mib']:.1f} MiB "
          f"(peak {idle['peak_mib']:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
