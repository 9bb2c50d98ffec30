#!/usr/bin/env python3
"""Soak: many residents' SMS while modem faults are switched on and off at random.

    .venv/bin/python bench/soak.py [--messages 1000] [--seed 1] [--max-minutes 40]

The real daemon runs against the simulated modem; a fault scheduler turns the simulated modem's
fault profiles on for a few seconds at a time. At the end it prints what went in and out and
checks the two promises: nothing lost, nothing duplicated. Also the longest recovery (from a fault
switched off to the next reply leaving the modem), and the daemon's CPU time and peak memory.
Replies leave at Gammu's pace (~0.7 s per SMS), so 1,000 messages take about 15 minutes.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gammu  # noqa: E402
from reply_latency import machine  # noqa: E402

from barriosms.sim import control  # noqa: E402
from barriosms.sim.rig import Rig, RigError, wait_for  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"

# Faults a stick shows for a while and then gets over; with the arguments used for each.
FAULTS: list[tuple[str, dict]] = [
    ("flood", {"interval": 0.1}),
    ("cmgl_error", {}),
    ("cmgd_fail", {}),
    ("no_cmti", {}),
    ("send_error", {"code": 38, "count": 2}),
    ("slow_send", {"seconds": 2}),
    ("hang", {}),
    ("vanish", {}),
    ("unregistered", {}),
]


class FaultScheduler(threading.Thread):
    def __init__(self, rig: Rig, rng: random.Random, stop: threading.Event):
        super().__init__(daemon=True)
        self.rig, self.rng, self.stop = rig, rng, stop
        self.switched_off: list[float] = []  # times a fault ended
        self.counts: collections.Counter[str] = collections.Counter()

    def run(self) -> None:
        ctl = str(self.rig.control)
        while not self.stop.wait(self.rng.uniform(3, 8)):
            name, args = self.rng.choice(FAULTS)
            try:
                control.set_fault(ctl, name, **args)
                self.counts[name] += 1
                self.stop.wait(self.rng.uniform(2, 10))
                control.clear_fault(ctl, name)
                self.switched_off.append(time.time())
            except control.SimControlError as exc:
                print(f"fault scheduler: {exc}", file=sys.stderr)
        try:
            control.clear_fault(ctl)
        except control.SimControlError:
            pass


def process_stats(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak resident memory in KiB of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    cpu = ticks / os.sysconf("SC_CLK_TCK")
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    return cpu, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-minutes", type=float, default=40)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"machine: {machine()}")
    print(f"gammu: {gammu.Version()[0]} (python-gammu {gammu.Version()[1]}); seed {args.seed}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="barriosms-soak-") as tmp, \
            Rig(Path(tmp), slots=30, poll_seconds=2, log_level="WARNING",
                gateway_options={"retry_base_seconds": 1, "retry_max_seconds": 10, "send_attempts": 20,
                                 "modem_timeout": 30, "delivery_reports": "no"}) as rig:
        rig.setup(CSV)
        rig.start_sim()
        rig.start_daemon()
        stop = threading.Event()
        faults = FaultScheduler(rig, rng, stop)
        faults.start()
        senders = [f"+5917{n:07d}" for n in rng.sample(range(10**6, 10**7), args.messages)]
        texts = {}
        for i, sender in enumerate(senders):
            text = f"B{(i % 15) + 1:02d} reclamo {i}: " + rng.choice(
                ["bache en la calle", "no hay luz", "basura acumulada", "se cayo un muro", "fuga de agua"])
            texts[sender] = text
            rig.text(sender, text)
            time.sleep(rng.uniform(0, 0.3))
        print(f"injected {len(senders)} messages in {time.monotonic() - started:.0f} s; waiting for the replies")
        deadline = args.max_minutes * 60
        try:
            wait_for(lambda: len({m["to"] for m in rig.sent()} & set(senders)) == len(senders),
                     max(60.0, deadline - (time.monotonic() - started)), "every reply", interval=1)
        except RigError as exc:
            print(f"warning: {exc}", file=sys.stderr)
        stop.set()
        faults.join(15)
        cpu, peak = process_stats(rig.daemon_proc.pid)
        stored = {text for (text,) in rig.query("SELECT text FROM inbound_message")}
        cases = rig.query('SELECT COUNT(*) FROM "case"')[0][0]
        dup_cases = rig.query('SELECT COUNT(*) FROM (SELECT text FROM "case" GROUP BY phone, text HAVING COUNT(*) > 1)')[0][0]
        sent = rig.sent()
        replies = collections.Counter(m["to"] for m in sent if m["to"] in texts)
        lost = [s for s, t in texts.items() if t not in stored]
        duplicate_replies = sum(1 for n in replies.values() if n > 1)
        recoveries = []
        for off in faults.switched_off:
            after = [m["at_epoch"] for m in sent if m["at_epoch"] >= off]
            if after:
                recoveries.append(min(after) - off)
        elapsed = time.monotonic() - started
    print(f"faults switched on: {dict(faults.counts)}")
    print(f"messages in: {len(texts)}, stored: {len(stored & set(texts.values()))}, cases: {cases}, "
          f"replies sent: {sum(replies.values())} to {len(replies)} residents")
    print(f"lost: {len(lost)} (must be 0), duplicate cases: {dup_cases} (must be 0), "
          f"residents answered more than once: {duplicate_replies} (must be 0)")
    print(f"longest recovery (fault off -> next reply leaves): {max(recoveries):.1f} s" if recoveries
          else "longest recovery: no reply after a fault ended")
    print(f"daemon CPU time: {cpu:.1f} s, peak RSS: {peak / 1024:.1f} MiB, run: {elapsed / 60:.1f} min")
    return 0 if not lost and not dup_cases and not duplicate_replies else 1


if __name__ == "__main__":
    sys.exit(main())
