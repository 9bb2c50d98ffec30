#!/usr/bin/env python3
"""barriosms against gammu-smsd, the daemon a technician would otherwise pick, on the same
simulated modem, in the same run.

    .venv/bin/python bench/compare_gammu_smsd.py [--messages 20] [--default-messages 2] [--skip-defaults]
                                                 [--seed 1] [--tuned-loopsleep 1] [--service sql]

gammu-smsd is Debian's package with its SQL service and the sqlite3 driver (a database made from
the schema Debian ships); a RunOnReceive script answers each SMS by queueing a reply with
gammu-smsd-inject, the usual way to build an auto-responder on it. The reply text is the one
barriosms sent first in this run, so both send the same length (one SMS).

Both are measured the same way, with the simulated modem's clock and log:

* reply latency: single messages, one at a time; from the moment the SMS reaches the modem to the
  modem receiving the AT+CMGS of the reply, and to the reply fully received by the modem (its
  PDU's Ctrl-Z: inside Gammu's SendSMS, both daemons wait the same ~0.6 s between the two).
  Before each message the script waits 0.25 s (the end of
  Gammu's send of the previous reply: each message finds its daemon idle) plus a random 0-1 s, the
  same pauses for every daemon, so that no daemon's polling cycle is met at the same phase every
  time (sent back to back, as bench/reply_latency.py does, each message would reach barriosms in
  the last 0.15 s of its previous send);
* drain: 30 messages fill the SIM while the daemon is stopped; from the moment the daemon is
  connected to the SIM being empty (replies not waited for). "Connected" is, for barriosms, the
  time it records in modem_health.since (as bench/reply_latency.py); for gammu-smsd, the moment its
  log shows "Inserting phone info": its SQL service writes that line once the modem is initialised
  and its IMEI and IMSI read, just before the first pass of its loop -- the same point as
  barriosms' record. The log's own time stamps have one-second resolution, so the script watches
  the log while gammu-smsd starts and takes its own clock when the line appears. (With the files
  service, which logs nothing there, the time of its AT+CIMI in the modem's log is used instead:
  it reads the IMSI just before that point; here the SQL line was seen 2-4 ms after the AT+CIMI.)

gammu-smsd runs tuned (ReceiveFrequency, CommTimeout and LoopSleep 1 s, StatusFrequency 0 and
CheckSecurity 0: what a technician tuning it for an auto-responder would set; 0 is accepted too but
a LoopSleep of 0 is a busy loop, --tuned-loopsleep 0 measures it) and with Debian's defaults
(ReceiveFrequency 15 s, CommTimeout 30 s: each reply takes 15-45 s, so two messages unless told
otherwise). The daemons' CPU time during the latency run and the AT commands per second they send
the modem are printed too.

Under a CPU quota (a stand-in for a slower machine such as a Raspberry Pi 3), run the whole script
through bench/cpu_quota.py: `.venv/bin/python bench/cpu_quota.py --cpus 0.2 -- .venv/bin/python
bench/compare_gammu_smsd.py`.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import importlib.metadata
import os
import platform
import random
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gammu  # noqa: E402
from reply_latency import drain as barriosms_drain  # noqa: E402
from reply_latency import machine, percentile  # noqa: E402

from barriosms.sim import control  # noqa: E402
from barriosms.sim.rig import Rig, RigError, wait_for  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"
INSTALL = "sudo apt-get install gammu-smsd libdbd-sqlite3"
SCHEMAS = ("/usr/share/doc/gammu-smsd/examples/sqlite.sql", "/usr/share/doc/gammu/examples/sql/sqlite.sql")
DBD_SQLITE3 = ("/usr/lib/*/dbd/libdbdsqlite3.so", "/usr/lib/dbd/libdbdsqlite3.so", "/usr/lib64/dbd/libdbdsqlite3.so")
READY_LINE = "Inserting phone info"  # SMSDSQL_InitAfterConnect: connected, IMEI and IMSI read
FILES_READY = "AT+CIMI"  # with the files service: the IMSI read, gammu-smsd's last step before that point
TUNED = {"receivefrequency": 1, "commtimeout": 1, "loopsleep": 1, "statusfrequency": 0, "checksecurity": 0}
# gammu-smsd 1.42's own values, for the output: the defaults run sets none of these.
DEFAULTS = "receivefrequency 15, commtimeout 30, loopsleep 1, statusfrequency 60, checksecurity 1"
REST = 0.25  # seconds before each message, after its predecessor's reply left: the send's tail
DRAIN = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Interrupted(SystemExit):
    pass


class StartError(RigError):
    """gammu-smsd exited or never connected to the modem."""


def on_signal(signum: int, frame: object) -> None:
    # A benchmark script, not the daemon: turning SIGTERM/SIGHUP into an exception is what makes
    # the `with` blocks and `finally` clauses below stop every process this script started. A
    # second signal must not interrupt that clean-up.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(128 + signum)


# -- what is installed ---------------------------------------------------------------------------


def schema_file() -> Path | None:
    for name in SCHEMAS:
        for candidate in (Path(name), Path(name + ".gz")):
            if candidate.exists():
                return candidate
    return None


def missing_packages() -> list[str]:
    missing = [tool for tool in ("gammu-smsd", "gammu-smsd-inject") if shutil.which(tool) is None]
    if not any(glob.glob(pattern) for pattern in DBD_SQLITE3):
        missing.append("libdbd-sqlite3 (libdbdsqlite3.so)")
    return missing


def run_text(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def deb_version(package: str) -> str:
    return run_text("dpkg-query", "-W", "-f=${Version}", package) or "?"


def describe_machine() -> str:
    try:
        distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        distro = ""
    load = os.getloadavg()[0]
    return f"{machine()}; {os.cpu_count()} cores; {distro or 'unknown distribution'}; load average {load:.2f} at start"


def smsd_version() -> str:
    first = run_text("gammu-smsd", "--version").splitlines()
    version = first[0].split()[-1] if first else "?"
    return (f"gammu-smsd {version} (Debian packages gammu-smsd {deb_version('gammu-smsd')}, "
            f"libgammu8 {deb_version('libgammu8')}, libdbd-sqlite3 {deb_version('libdbd-sqlite3')})")


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Result:
    latencies: list[float]  # injection -> AT+CMGS of the reply
    received: list[float]  # injection -> the reply's PDU fully received by the modem
    drain: float
    cpu: float  # the daemon's CPU seconds over the latency run (start-up included, children too)
    at_per_second: float  # AT commands the daemon sent the modem per second during the latency run


def cpu_seconds(pid: int) -> float:
    """utime + stime + the waited-for children's (RunOnReceive scripts), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def commands(rig: Rig) -> list[dict]:
    return control.send_request(str(rig.control), {"cmd": "commands"})["commands"]


def at_rate(rig: Rig, since: float, until: float) -> float:
    return sum(1 for c in commands(rig) if since <= c["at_epoch"] <= until) / max(until - since, 1e-9)


def latency_run(rig: Rig, gaps: list[float], prefix: str, timeout: float,
                alive=lambda: None) -> tuple[list[float], list[float]]:
    """Single messages, one at a time, each after its pause; injection -> AT+CMGS of its reply, and
    injection -> its reply fully received by the modem."""
    latencies, received = [], []
    for i, gap in enumerate(gaps):
        time.sleep(gap)
        sender = f"+5917{prefix}{i:04d}"
        before = len(rig.sent())
        injected = rig.text(sender, f"B12 bache numero {i} en la calle {i}")

        def reply(b: int = before, s: str = sender) -> list[dict]:
            alive()
            return [m for m in rig.sent()[b:] if m["to"] == s]

        [answer] = wait_for(reply, timeout, f"the reply to {sender}")
        latencies.append(answer["at_epoch"] - injected["at_epoch"])
        received.append(answer["received_epoch"] - injected["at_epoch"])
    return latencies, received


def fill(rig: Rig, count: int, prefix: str) -> None:
    for i in range(count):
        rig.text(f"+5917{prefix}{i:04d}", f"B{(i % 15) + 1:02d} problema {i}")
    used = rig.sim_status()["used"]
    if used != count:
        raise RigError(f"the simulated SIM holds {used} messages, not {count}")


def measure_barriosms(folder: Path, gaps: list[float]) -> tuple[Result, str]:
    with Rig(folder / "latency", poll_seconds=30, log_level="WARNING") as rig:
        rig.setup(CSV)
        rig.start_sim()
        rig.start_daemon()
        start = time.time()
        latencies, received = latency_run(rig, gaps, "100", 15)
        end = time.time()
        cpu = cpu_seconds(rig.daemon_proc.pid)
        rate = at_rate(rig, start, end)
        reply = rig.sent()[0]["text"]
    drain = barriosms_drain(folder / "drain", DRAIN)
    return Result(latencies, received, drain, cpu, rate), reply


class GammuSmsd:
    """gammu-smsd with its sqlite database (or files) and a RunOnReceive auto-reply, on a rig's modem."""

    def __init__(self, folder: Path, device: Path, tuning: dict[str, int], service: str, reply: str,
                 lifetime: float):
        self.folder = folder
        self.lifetime = int(lifetime)
        folder.mkdir(parents=True)
        self.service = service
        self.config = folder / "smsdrc"
        self.log = folder / "smsd.log"
        self.database = folder / "smsd.db"
        self.inbox = folder / "inbox"
        script = folder / "reply.sh"
        inject = shutil.which("gammu-smsd-inject") or "gammu-smsd-inject"
        # gammu-smsd runs this once per received message (all its parts): SMS_1_NUMBER is the sender.
        script.write_text(
            "#!/bin/sh\n"
            "# RunOnReceive: queue one reply to the sender in gammu-smsd's outbox.\n"
            f'exec {shlex.quote(inject)} -c {shlex.quote(str(self.config))} TEXT "$SMS_1_NUMBER" '
            f"-text {shlex.quote(reply)} >/dev/null 2>>{shlex.quote(str(folder / 'inject.err'))}\n")
        script.chmod(0o755)
        lines = ["[gammu]", f"device = {device}", "connection = at", "model = at", "", "[smsd]"]
        if service == "sql":
            schema = schema_file()
            assert schema is not None
            opener = gzip.open if schema.suffix == ".gz" else open
            with opener(schema, "rt") as sql, sqlite3.connect(self.database) as db:
                db.executescript(sql.read())
            lines += ["service = sql", "driver = sqlite3", f"database = {self.database.name}", f"dbdir = {folder}/"]
        else:
            for box in ("inbox", "outbox", "sent", "error"):
                (folder / box).mkdir()
            lines += ["service = files", f"inboxpath = {folder}/inbox/", f"outboxpath = {folder}/outbox/",
                      f"sentsmspath = {folder}/sent/", f"errorsmspath = {folder}/error/"]
        # No PIN line: the simulated SIM is not locked (gammu-smsd logs a warning about it, nothing more).
        lines += [f"logfile = {self.log}", "debuglevel = 0", f"runonreceive = {script}", "phoneid = sim"]
        lines += [f"{k} = {v}" for k, v in tuning.items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0
        self._log_tail = ""

    def start(self) -> None:
        # Without -d it stays in the foreground; its own session, so that stop() can reach the
        # RunOnReceive children too; -X: it stops itself after that long even if this script is
        # killed outright.
        self.proc = subprocess.Popen(["gammu-smsd", "-c", str(self.config), "-X", str(self.lifetime)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise StartError(f"gammu-smsd exited ({self.proc.returncode}); its log ends:\n{self.log_end()}")

    def log_end(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_has(self, needle: str) -> bool:
        """Read what gammu-smsd appended to its log since the last call; is `needle` in it?"""
        try:
            with open(self.log, "rb") as fh:
                fh.seek(self._log_offset)
                chunk = fh.read()
        except FileNotFoundError:
            return False
        self._log_offset += len(chunk)
        text = self._log_tail + chunk.decode("utf-8", "replace")
        self._log_tail = text[-len(needle):]
        return needle in text

    def ready_probe(self, rig: Rig):
        """A function returning the time gammu-smsd is seen connected (see the module's docstring), or None."""
        if self.service == "sql":
            return lambda: time.time() if self.log_has(READY_LINE) else None

        def imsi_read() -> float | None:
            reads = [c["at_epoch"] for c in commands(rig) if c["line"].upper().startswith(FILES_READY)]
            return min(reads) if reads else None
        return imsi_read

    def wait_ready(self, rig: Rig, timeout: float) -> float:
        probe = self.ready_probe(rig)

        def ready() -> float | None:
            self.alive()
            return probe()
        try:
            return wait_for(ready, timeout, "gammu-smsd to connect to the modem", interval=0.05)
        except RigError as exc:
            raise StartError(f"{exc}; its log ends:\n{self.log_end()}") from exc

    def stored(self) -> int:
        if self.service == "sql":
            with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
                return db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
        return sum(1 for _ in self.inbox.iterdir())

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # itself if it hung, and any RunOnReceive child left
        except ProcessLookupError:
            pass
        proc.wait(15)


def measure_smsd(folder: Path, gaps: list[float], tuning: dict[str, int], service: str, reply: str,
                 timeout: float) -> Result:
    lifetime = 60 + 90 + sum(gaps) + len(gaps) * timeout  # connecting, the clean-up, every reply's timeout
    with Rig(folder / "latency-modem", log_level="WARNING") as rig:
        smsd = GammuSmsd(folder / "latency", rig.device, tuning, service, reply, lifetime)
        rig.start_sim()
        smsd.start()
        try:
            smsd.wait_ready(rig, 60)
            start = time.time()
            latencies, received = latency_run(rig, gaps, "300", timeout, smsd.alive)
            end = time.time()
            cpu = cpu_seconds(smsd.proc.pid)
            rate = at_rate(rig, start, end)
            texts = {m["text"] for m in rig.sent()}
        finally:
            smsd.stop()
        if texts != {reply}:
            print(f"note: gammu-smsd's replies differ from barriosms' text: {sorted(texts)!r}")
    with Rig(folder / "drain-modem", slots=DRAIN, log_level="WARNING") as rig:
        smsd = GammuSmsd(folder / "drain", rig.device, tuning, service, reply, 60 + 90 + 90)
        rig.start_sim()
        fill(rig, DRAIN, "400")
        probe = smsd.ready_probe(rig) if service == "sql" else lambda: None
        ready: float | None = None
        smsd.start()
        try:
            deadline = time.monotonic() + 90
            while True:
                if ready is None:
                    ready = probe()
                if rig.sim_status()["used"] == 0:
                    emptied = time.time()
                    break
                smsd.alive()
                if time.monotonic() > deadline:
                    raise RigError(f"gammu-smsd did not empty the SIM in 90 s; its log ends:\n{smsd.log_end()}")
                time.sleep(0.005)
            if service != "sql":
                ready = smsd.ready_probe(rig)()
        finally:
            smsd.stop()
        stored = smsd.stored()
        if stored != DRAIN:
            raise RigError(f"gammu-smsd stored {stored} of the {DRAIN} messages it deleted from the SIM")
        if ready is None:
            raise RigError(f"the SIM emptied before gammu-smsd's log showed {READY_LINE!r}")
    return Result(latencies, received, emptied - ready, cpu, rate)


# -- reporting -----------------------------------------------------------------------------------


def row(name: str, r: Result) -> str:
    return (f"{name:<28} {statistics.median(r.latencies):8.3f} s {percentile(r.latencies, 0.95):8.3f} s "
            f"{max(r.latencies):8.3f} s {statistics.median(r.received):8.3f} s {percentile(r.received, 0.95):8.3f} s"
            f" {len(r.latencies):4d} {r.drain:10.3f} s {r.cpu:8.2f} s {r.at_per_second:9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20, help="single messages for barriosms and tuned gammu-smsd")
    parser.add_argument("--default-messages", type=int, default=2,
                        help="single messages for gammu-smsd with Debian's defaults (15-45 s each)")
    parser.add_argument("--skip-defaults", action="store_true", help="do not run gammu-smsd with Debian's defaults")
    parser.add_argument("--seed", type=int, default=1, help="seed of the pauses before each message")
    parser.add_argument("--service", choices=("sql", "files"), default="sql",
                        help="gammu-smsd's service: sql (sqlite3 driver, the default) or files")
    parser.add_argument("--tuned-loopsleep", type=int, default=TUNED["loopsleep"],
                        help="LoopSleep of the tuned gammu-smsd (default 1; 0, the lowest it accepts, is a busy loop)")
    args = parser.parse_args()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    missing = missing_packages()
    if missing:
        print(f"missing: {', '.join(missing)}\ninstall them with:\n  {INSTALL}", file=sys.stderr)
        return 2
    service = args.service if schema_file() else "files"

    print(f"machine: {describe_machine()}")
    print(f"barriosms: python-gammu {importlib.metadata.version('python-gammu')} wheel with Gammu {gammu.Version()[0]}")
    print(f"gammu-smsd: {smsd_version()}")
    if service != args.service:
        print(f"note: gammu's sqlite schema is not installed ({', '.join(SCHEMAS)}): gammu-smsd uses its files service")
    rng = random.Random(args.seed)
    gaps = [REST + rng.uniform(0, 1) for _ in range(max(args.messages, args.default_messages))]
    tuning = {**TUNED, "loopsleep": args.tuned_loopsleep}
    began = time.monotonic()

    def progress(what: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {what}", file=sys.stderr, flush=True)

    rows: list[tuple[str, Result]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="barriosms-compare-") as tmp:
            folder = Path(tmp)
            progress("barriosms")
            ours, reply = measure_barriosms(folder / "barriosms", gaps[: args.messages])
            rows.append(("barriosms", ours))
            progress("gammu-smsd, tuned")
            try:
                tuned = measure_smsd(folder / "tuned", gaps[: args.messages], tuning, service, reply, 15)
            except StartError as exc:
                if service != "sql":
                    raise
                print(f"gammu-smsd's SQL service (sqlite3) failed here ({exc}); using its files service",
                      file=sys.stderr)
                service = "files"
                tuned = measure_smsd(folder / "tuned-files", gaps[: args.messages], tuning, service, reply, 15)
            rows.append(("gammu-smsd, tuned", tuned))
            if not args.skip_defaults and args.default_messages > 0:
                progress("gammu-smsd, Debian's defaults")
                rows.append(("gammu-smsd, Debian defaults",
                             measure_smsd(folder / "defaults", gaps[: args.default_messages], {}, service, reply, 60)))
            progress("done")
    except (RigError, control.SimControlError, subprocess.SubprocessError, OSError, AssertionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        print("interrupted: the processes started here are stopped", file=sys.stderr)
        return exc.code if isinstance(exc, Interrupted) else 130

    ready = ("its log line \"Inserting phone info\"" if service == "sql" else "its AT+CIMI on the modem")
    defaults = f"; Debian defaults = {DEFAULTS}" if len(rows) > 2 else ""
    print(f"gammu-smsd service: {'sql, driver sqlite3' if service == 'sql' else 'files'}; RunOnReceive -> "
          f"gammu-smsd-inject; tuned = {', '.join(f'{k} {v}' for k, v in tuning.items())}{defaults}")
    print(f"reply: the same {len(reply)} characters from both (one SMS): {reply!r}")
    print(f"latency: injection -> AT+CMGS of the reply (CMGS) and -> the reply's PDU fully received by the modem "
          f"(sent), single messages, each after a pause of {REST} s + random "
          f"0-1 s (seed {args.seed}); drain of {DRAIN}: connected (barriosms: modem_health.since; gammu-smsd: {ready}) "
          "-> SIM empty; CPU: the daemon's CPU seconds from its start to the end of the latency run, children "
          "included; AT cmds/s: commands it sent the modem per second during the latency run")
    print()
    print(f"{'daemon':<28} {'CMGS p50':>10} {'p95':>10} {'max':>10} {'sent p50':>10} {'p95':>10} {'n':>4} {'drain of 30':>12} "
          f"{'CPU (lat.)':>10} {'AT cmds/s':>9}")
    for name, result in rows:
        print(row(name, result))
    print()
    base = rows[0][1]
    for name, result in rows[1:]:
        p50_ratio = statistics.median(result.latencies) / statistics.median(base.latencies)
        print(f"ratio {name.replace('gammu-smsd, ', 'gammu-smsd (')}) / barriosms: latency p50 {p50_ratio:.1f}x, "
              f"p95 {percentile(result.latencies, 0.95) / percentile(base.latencies, 0.95):.1f}x, "
              f"drain {result.drain / base.drain:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
