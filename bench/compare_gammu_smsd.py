#!/usr/bin/env python3
"""barriosms against gammu-smsd, the daemon a technician would otherwise pick, on the same
simulated modem, in the same run.

    .venv/bin/python bench/compare_gammu_smsd.py [--messages 20] [--default-messages 4]

gammu-smsd (Debian's package, SQL service with the sqlite3 driver) answers each SMS from a
RunOnReceive script that queues the reply with gammu-smsd-inject, the usual way to build an
auto-responder on it. Both daemons are measured the same way, from the simulated modem's own log:

* reply latency: a resident's SMS reaches the modem -> the modem receives the AT+CMGS of the reply;
* drain: 30 messages fill the SIM while the daemon is stopped; from the daemon's first SMS-reading
  command (AT+CMGL or AT+CMGR) to the SIM being empty (replies not waited for).

gammu-smsd runs twice: tuned (ReceiveFrequency 1, CommTimeout 1, LoopSleep 1, StatusFrequency 0:
as fast as it goes) and with Debian's defaults (ReceiveFrequency 15 s: only a few messages, or the
run would take many minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gammu  # noqa: E402
from reply_latency import machine, percentile  # noqa: E402

from barriosms.rig import Rig, wait_for  # noqa: E402
from barriosms.sim import control  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"
SCHEMA = Path("/usr/share/doc/gammu-smsd/examples/sqlite.sql")
REPLY = "Gracias, su reclamo quedo registrado. Numero: 2408917. Para saber como va, envie 2408917"
TUNED = {"receivefrequency": 1, "commtimeout": 1, "loopsleep": 1, "statusfrequency": 0}


def missing_tools() -> list[str]:
    missing = [t for t in ("gammu-smsd", "gammu-smsd-inject", "sqlite3") if shutil.which(t) is None]
    if not SCHEMA.exists():
        missing.append(str(SCHEMA))
    if not any(Path(p).exists() for p in ("/usr/lib/x86_64-linux-gnu/dbd/libdbdsqlite3.so",
                                          "/usr/lib/aarch64-linux-gnu/dbd/libdbdsqlite3.so",
                                          "/usr/lib/arm-linux-gnueabihf/dbd/libdbdsqlite3.so")):
        missing.append("libdbd-sqlite3")
    return missing


def smsd_version() -> str:
    out = subprocess.run(["gammu-smsd", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


class GammuSmsd:
    """gammu-smsd with a sqlite database and a RunOnReceive auto-reply, on the rig's simulated modem."""

    def __init__(self, folder: Path, device: Path, tuning: dict[str, int], service: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "smsdrc"
        self.log = folder / "smsd.log"
        script = folder / "reply.sh"
        script.write_text(
            "#!/bin/sh\n"
            "# RunOnReceive: queue one reply per received SMS (SMS_n_NUMBER set by gammu-smsd).\n"
            'i=1\nwhile [ "$i" -le "${SMS_MESSAGES:-0}" ]; do\n'
            '  eval number=\\$SMS_${i}_NUMBER\n'
            f'  gammu-smsd-inject -c {self.config} TEXT "$number" -text "{REPLY}" >/dev/null 2>&1\n'
            "  i=$((i + 1))\ndone\n")
        script.chmod(0o755)
        lines = ["[gammu]", f"device = {device}", "connection = at", "model = at", "", "[smsd]"]
        if service == "sql":
            database = folder / "smsd.db"
            with open(SCHEMA) as schema:
                subprocess.run(["sqlite3", str(database)], stdin=schema, check=True)
            lines += ["service = sql", "driver = sqlite3", f"database = {database.name}", f"dbdir = {folder}/"]
        else:
            for box in ("inbox", "outbox", "sent", "error"):
                (folder / box).mkdir()
            lines += ["service = files", f"inboxpath = {folder}/inbox/", f"outboxpath = {folder}/outbox/",
                      f"sentsmspath = {folder}/sent/", f"errorsmspath = {folder}/error/"]
        lines += [f"logfile = {self.log}", "debuglevel = 0", f"runonreceive = {script}", "checksecurity = 0",
                  "phoneid = sim"]
        lines += [f"{k} = {v}" for k, v in tuning.items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["gammu-smsd", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def first_read_after(rig: Rig, since: float, prefixes: tuple[str, ...] = ("AT+CMGL", "AT+CMGR")) -> float:
    """When the daemon first sent one of these commands to the modem (after `since`)."""
    commands = control.send_request(str(rig.control), {"cmd": "commands"})["commands"]
    reads = [c["at_epoch"] for c in commands if c["at_epoch"] >= since and c["line"].upper().startswith(prefixes)]
    return min(reads)


def latency_run(rig: Rig, count: int, prefix: str, timeout: float) -> list[float]:
    latencies = []
    for i in range(count):
        sender = f"+5917{prefix}{i:04d}"
        before = len(rig.sent())
        injected = rig.text(sender, f"B12 bache numero {i} en la calle {i}")
        [reply] = wait_for(lambda b=before, s=sender: [m for m in rig.sent()[b:] if m["to"] == s], timeout, "the reply")
        latencies.append(reply["at_epoch"] - injected["at_epoch"])
    return latencies


def fill(rig: Rig, count: int, prefix: str) -> None:
    for i in range(count):
        rig.text(f"+5917{prefix}{i:04d}", f"B{(i % 15) + 1:02d} problema {i}")
    assert rig.sim_status()["used"] == count


def measure_barriosms(folder: Path, count: int) -> tuple[list[float], float]:
    with Rig(folder / "lat", poll_seconds=30, log_level="WARNING") as rig:
        rig.setup(CSV)
        rig.start_sim()
        rig.start_daemon()
        latencies = latency_run(rig, count, "100", 30)
    with Rig(folder / "drain", slots=30, poll_seconds=5, log_level="WARNING") as rig:
        rig.setup(CSV)
        rig.start_sim()
        fill(rig, 30, "200")
        started = time.time()
        rig.start_daemon(wait_connected=False)
        wait_for(lambda: rig.sim_status()["used"] == 0, 120, "the SIM to empty", interval=0.005)
        drain = time.time() - first_read_after(rig, started)
    return latencies, drain


def working_service(folder: Path) -> str:
    """The SQL service with sqlite3 when it works here, else the files service (said in the output).

    Debian 12's gammu-smsd 1.42 with libdbd-sqlite3 0.9 logs "DBI error -6: An invalid or
    out-of-range index was passed to libdbi" at every loop and never reads the SIM.
    """
    with Rig(folder / "probe-sim", log_level="WARNING") as rig:
        rig.start_sim()
        rig.text("+59170000000", "B12 prueba")
        smsd = GammuSmsd(folder / "probe", rig.device, TUNED, "sql")
        smsd.start()
        try:
            wait_for(lambda: first_read_or_none(rig, 0), 20, "gammu-smsd (sql) to read the SIM", interval=0.1)
            return "sql"
        except Exception:  # noqa: BLE001 - any failure means: use the files service
            errors = [line for line in smsd.log.read_text(errors="replace").splitlines() if "error" in line.lower()]
            print(f"gammu-smsd's sqlite3 service does not work here ({errors[-1].split(': ', 1)[-1] if errors else 'no read'});"
                  " using its files service", file=sys.stderr)
            return "files"
        finally:
            smsd.stop()


def measure_smsd(folder: Path, count: int, tuning: dict[str, int], timeout: float,
                 service: str) -> tuple[list[float], float]:
    with Rig(folder / "sim-lat", log_level="WARNING") as rig:
        rig.start_sim()
        smsd = GammuSmsd(folder / "smsd-lat", rig.device, tuning, service)
        smsd.start()
        try:
            # With an empty SIM gammu-smsd only asks AT+CPMS each loop: that is its loop running.
            wait_for(lambda: first_read_or_none(rig, 0, ("AT+CPMS",)), 60, "gammu-smsd's loop", interval=0.1)
            latencies = latency_run(rig, count, "300", timeout)
        finally:
            smsd.stop()
    with Rig(folder / "sim-drain", slots=30, log_level="WARNING") as rig:
        rig.start_sim()
        fill(rig, 30, "400")
        smsd = GammuSmsd(folder / "smsd-drain", rig.device, tuning, service)
        started = time.time()
        smsd.start()
        try:
            wait_for(lambda: rig.sim_status()["used"] == 0, 300, "gammu-smsd to empty the SIM", interval=0.005)
            drain = time.time() - first_read_after(rig, started)
        finally:
            smsd.stop()
    return latencies, drain


def first_read_or_none(rig: Rig, since: float, prefixes: tuple[str, ...] = ("AT+CMGL", "AT+CMGR")) -> float | None:
    try:
        return first_read_after(rig, since, prefixes)
    except ValueError:
        return None


def summary(name: str, latencies: list[float], drain: float) -> str:
    return (f"{name:<28} latency p50 {statistics.median(latencies):7.3f} s  p95 {percentile(latencies, 0.95):7.3f} s"
            f"  (n={len(latencies)})   drain of 30: {drain:6.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--default-messages", type=int, default=4,
                        help="messages for gammu-smsd with Debian's defaults (each takes up to ~30 s)")
    parser.add_argument("--skip-defaults", action="store_true", help="do not run gammu-smsd with its defaults")
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        print(f"missing: {', '.join(missing)}. Install them: sudo apt-get install gammu-smsd libdbd-sqlite3 sqlite3",
              file=sys.stderr)
        return 2
    print(f"machine: {machine()}, {os.cpu_count()} cores")
    print(f"barriosms: python-gammu {gammu.Version()[1]} with Gammu {gammu.Version()[0]}; "
          f"gammu-smsd: Debian's {smsd_version()}")
    with tempfile.TemporaryDirectory(prefix="barriosms-compare-") as tmp:
        folder = Path(tmp)
        service = working_service(folder)
        print(f"gammu-smsd service: {service}")
        ours = measure_barriosms(folder / "barriosms", args.messages)
        tuned = measure_smsd(folder / "tuned", args.messages, TUNED, 60, service)
        print(summary("barriosms", *ours))
        print(summary("gammu-smsd (tuned)", *tuned))
        rows = [("tuned", tuned)]
        if not args.skip_defaults:
            defaults = measure_smsd(folder / "defaults", args.default_messages, {}, 120, service)
            print(summary("gammu-smsd (Debian defaults)", *defaults))
            rows.append(("Debian defaults", defaults))
    for label, (latencies, drain) in rows:
        print(f"ratio gammu-smsd ({label}) / barriosms: latency p50 "
              f"{statistics.median(latencies) / statistics.median(ours[0]):.1f}x, drain {drain / ours[1]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
