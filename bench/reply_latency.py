#!/usr/bin/env python3
"""Reply latency and full-SIM drain time of barriosms on the simulated modem.

Run it with the project's venv:  .venv/bin/python bench/reply_latency.py [--messages 20]

1. Reply latency: a resident's SMS is injected into the simulated modem; we measure until the modem
   receives the AT+CMGS of the reply (the moment the reply leaves for the network), and until the
   reply's PDU has fully arrived (its Ctrl-Z: Gammu's SendSMS waits ~0.6 s between the two,
   whoever calls it). Messages go one at a time. poll_seconds is set to 30 so the figure shows the notification path (+CMTI), not the
   poll. Target: p50 <= 1 s.
2. Drain: 30 messages fill the SIM while the daemon is stopped; the daemon starts, and we measure
   from the moment it reports the modem connected until every message is stored and the SIM is
   empty (replies excluded: they are sent afterwards). Target: <= 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gammu  # noqa: E402

from barriosms.sim.rig import Rig, wait_for  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"


def machine() -> str:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    # x86 names the CPU in "model name"; a Raspberry Pi names the board in "Model".
    cpu = info.get("model name") or info.get("model") or info.get("hardware") or platform.processor()
    return f"{platform.node()} {platform.machine()} ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def reply_latency(folder: Path, count: int) -> tuple[list[float], list[float]]:
    """Injection -> AT+CMGS of each reply, and injection -> the reply's PDU fully received."""
    latencies, received = [], []
    with Rig(folder, poll_seconds=30, log_level="WARNING") as rig:
        rig.setup(CSV)
        rig.start_sim()
        rig.start_daemon()
        for i in range(count):
            sender = f"+5917100{i:04d}"
            before = len(rig.sent())
            injected = rig.text(sender, f"B12 bache numero {i} en la calle {i}")
            [reply] = wait_for(lambda b=before, s=sender: [m for m in rig.sent()[b:] if m["to"] == s], 30, "the reply")
            latencies.append(reply["at_epoch"] - injected["at_epoch"])
            received.append(reply["received_epoch"] - injected["at_epoch"])
    return latencies, received


def drain(folder: Path, count: int = 30) -> float:
    with Rig(folder, slots=count, poll_seconds=5, log_level="WARNING") as rig:
        rig.setup(CSV)
        rig.start_sim()
        for i in range(count):
            rig.text(f"+5917200{i:04d}", f"B{(i % 15) + 1:02d} problema {i}")
        assert rig.sim_status()["used"] == count
        rig.start_daemon(wait_connected=False)
        # Poll the SIM tightly; the daemon's own connect time (Gammu's Init) is not counted.
        wait_for(lambda: rig.sim_status()["used"] == 0, 120, "the SIM to empty", interval=0.005)
        emptied = time.time()
        stored = rig.query("SELECT COUNT(*) FROM inbound_message")[0][0]
        assert stored == count, f"{stored} stored"
        [(since,)] = rig.query("SELECT since FROM modem_health WHERE id = 1")
        connected = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC).timestamp()
        return emptied - connected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"gammu: {gammu.Version()[0]} (python-gammu {gammu.Version()[1]})")
    with tempfile.TemporaryDirectory(prefix="barriosms-bench-") as tmp:
        lat, received = reply_latency(Path(tmp) / "latency", args.messages)
        print(f"reply latency over {len(lat)} messages (injection -> AT+CMGS of the reply): "
              f"p50 {statistics.median(lat):.3f} s, p95 {percentile(lat, 0.95):.3f} s, "
              f"min {min(lat):.3f} s, max {max(lat):.3f} s  [target p50 <= 1 s]")
        print(f"reply fully received by the modem (injection -> the reply's Ctrl-Z): "
              f"p50 {statistics.median(received):.3f} s, p95 {percentile(received, 0.95):.3f} s, "
              f"max {max(received):.3f} s")
        seconds = drain(Path(tmp) / "drain")
        print(f"full SIM drain (30 messages stored and deleted, replies excluded): {seconds:.2f} s  [target <= 3 s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
