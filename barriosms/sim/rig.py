"""A whole gateway on a simulated modem, as real processes: for the demo, benchmarks and
end-to-end tests.

Everything here is the production code path: `barriosms sim serve` is a separate process that
Gammu talks to over a pseudo-terminal, and `barriosms run` is the real daemon. The rig only writes
a config, starts and stops the processes, and reads the results (the database with sqlite3, the
modem through its control socket).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from barriosms.sim import control


class RigError(RuntimeError):
    pass


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RigError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Rig:
    """Config, database, simulated modem and daemon in one folder."""

    # The names of what the rig and the processes it starts make in its folder.
    CONFIG = "barriosms.ini"
    DATABASE = "barriosms.db"
    DEVICE = "modem"
    CONTROL = "modem.control"
    LOGS = ("web.log", "sim.log", "daemon.log")

    def __init__(self, folder: Path, *, slots: int = 30, poll_seconds: float = 5, multipart_timeout: float = 600,
                 log_level: str = "INFO", gateway_options: dict[str, Any] | None = None,
                 service_options: dict[str, Any] | None = None):
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = self.folder / self.CONFIG
        self.database = self.folder / self.DATABASE
        self.device = self.folder / self.DEVICE
        self.control = self.folder / self.CONTROL
        self.slots = slots
        self.sim_proc: subprocess.Popen | None = None
        self.daemon_proc: subprocess.Popen | None = None
        self.web_proc: subprocess.Popen | None = None
        self.web_url = ""
        self.web_log, self.sim_log, self.daemon_log = (self.folder / name for name in self.LOGS)
        self.log_level = log_level
        self.gateway_options = {"poll_seconds": poll_seconds, "multipart_timeout": multipart_timeout,
                                "retry_base_seconds": 2, "retry_max_seconds": 30, "heartbeat_seconds": 5}
        self.gateway_options.update(gateway_options or {})
        self.write_config(service_options)

    @classmethod
    def files_in(cls, folder: Path) -> list[Path]:
        """What a rig in `folder` may have made there: the config, the database with SQLite's files
        beside it, the modem's link and control socket, the logs. Not the run lock `<database>.lock`:
        it is never deleted (see runlock)."""
        database = [folder / f"{cls.DATABASE}{end}" for end in ("", "-wal", "-shm", "-journal")]
        return [folder / cls.CONFIG, *database, folder / cls.DEVICE, folder / cls.CONTROL,
                *(folder / name for name in cls.LOGS)]

    def write_config(self, service_options: dict[str, Any] | None = None) -> None:
        """(Re)write the config; after start_daemon, `reload()` makes the daemon read it."""
        gateway = "".join(f"{k} = {v}\n" for k, v in self.gateway_options.items())
        service = "".join(f"{k} = {v}\n" for k, v in (service_options or {}).items())
        self.config.write_text(
            "; written by barriosms.sim.rig: a gateway on the simulated modem\n"
            f"[database]\npath = {self.database}\n\n"
            f"[modem]\ndevice = {self.device}\nconnection = at\n\n"
            f"[gateway]\n{gateway}\n[service]\n{service}\n[logging]\nlevel = {self.log_level}\n",
            encoding="utf-8")

    def reload(self, timeout: float = 30) -> None:
        """SIGHUP the daemon and wait until it has reloaded and reconnected to the modem."""
        assert self.daemon_proc is not None
        done = self.daemon_log.read_text(errors="replace").count("reloaded configuration")
        self.daemon_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.daemon_log.read_text(errors="replace").count("reloaded configuration") > done,
                 timeout, "the daemon to reload")
        self.wait_connected(timeout)

    def autoresponder(self, number: str, text: str | None, delay: float = 1.0) -> dict:
        """Make the phone `number` answer every SMS the gateway sends it (a machine), or stop (None)."""
        return control.set_autoresponder(str(self.control), number, text, delay)

    # -- processes ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BARRIOSMS_CONFIG"] = str(self.config)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `barriosms ARGS` against this rig's config, as staff would."""
        proc = subprocess.run([sys.executable, "-m", "barriosms", *args], env=self._env(), capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RigError(f"barriosms {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def setup(self, neighborhoods_csv: Path) -> None:
        self.cli("db", "migrate")
        self.cli("neighborhoods", "import", str(neighborhoods_csv))

    def start_sim(self, *extra: str) -> None:
        with open(self.sim_log, "ab") as log:
            self.sim_proc = subprocess.Popen(
                [sys.executable, "-m", "barriosms", "sim", "serve", "--device", str(self.device),
                 "--control", str(self.control), "--slots", str(self.slots), *extra],
                stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True)
        wait_for(self._sim_ready, 20, "the simulated modem to start")

    def _sim_ready(self) -> bool:
        if self.sim_proc is not None and self.sim_proc.poll() is not None:
            raise RigError(f"the simulated modem exited ({self.sim_proc.returncode}); see {self.sim_log}")
        try:
            return bool(control.send_request(str(self.control), {"cmd": "status"}, timeout=1).get("ok"))
        except control.SimControlError:
            return False

    def start_daemon(self, wait_connected: bool = True) -> None:
        with open(self.daemon_log, "ab") as log:
            self.daemon_proc = subprocess.Popen([sys.executable, "-m", "barriosms", "run"], stdout=log,
                                                stderr=subprocess.STDOUT, env=self._env(), start_new_session=True)
        if wait_connected:
            self.wait_connected()

    def start_web(self, listen: str = "127.0.0.1:0", timeout: float = 30) -> str:
        """Start `barriosms web` on this rig's database; its URL (also in `web_url`) once it listens."""
        with open(self.web_log, "ab") as log:
            self.web_proc = subprocess.Popen([sys.executable, "-m", "barriosms", "web", "--listen", listen],
                                             stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                             start_new_session=True)

        def listening() -> str | None:
            if self.web_proc is not None and self.web_proc.poll() is not None:
                raise RigError(f"the website exited ({self.web_proc.returncode}); see {self.web_log}:\n"
                               + self.web_log.read_text(errors="replace")[-2000:])
            found = re.findall(r"website listening on (http://\S+)", self.web_log.read_text(errors="replace"))
            return found[-1] if found else None

        self.web_url = wait_for(listening, timeout, "the website to listen")
        return self.web_url

    def wait_connected(self, timeout: float = 60) -> None:
        def connected() -> bool:
            if self.daemon_proc is not None and self.daemon_proc.poll() is not None:
                raise RigError(f"the daemon exited ({self.daemon_proc.returncode}); see {self.daemon_log}:\n"
                               + self.daemon_log.read_text(errors="replace")[-2000:])
            row = self.query("SELECT connected, pid FROM modem_health WHERE id = 1")
            return bool(row and row[0][0] and row[0][1] == cast("subprocess.Popen[Any]", self.daemon_proc).pid)  # started first
        wait_for(connected, timeout, "the daemon to connect to the modem")

    def kill_daemon(self, sig: int = signal.SIGKILL) -> int:
        assert self.daemon_proc is not None
        self.daemon_proc.send_signal(sig)
        return self.daemon_proc.wait(timeout=90)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM the website, the daemon, then the modem; return their exit codes."""
        codes: dict[str, int | None] = {}
        for name, proc in (("web", self.web_proc), ("daemon", self.daemon_proc), ("sim", self.sim_proc)):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            codes[name] = proc.returncode
        self.daemon_proc = self.sim_proc = self.web_proc = None
        return codes

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the modem side ----------------------------------------------------------------------

    def text(self, sender: str, text: str) -> dict:
        """A resident sends an SMS to the municipal number."""
        return control.inject_text(str(self.control), sender, text)

    def call(self, number: str, ring_seconds: float | None = None) -> dict:
        """A resident calls the municipal number ("" withholds it): the modem rings until the daemon
        hangs up or the caller gives up; `calls()` shows how it went."""
        return control.call(str(self.control), number, ring_seconds)

    def calls(self) -> list[dict]:
        """Every call the modem got, oldest first (state, rings, ended_by: modem when hung up)."""
        return control.status(str(self.control))["calls"]

    def sent(self) -> list[dict]:
        return control.sent_messages(str(self.control))

    def sent_to(self, number: str, count: int, timeout: float = 30) -> list[dict]:
        """Wait until the modem has sent at least `count` SMS to `number`; all of them, in order."""
        def enough() -> list[dict] | None:
            mine = [m for m in self.sent() if m["to"] == number]
            return mine if len(mine) >= count else None
        return wait_for(enough, timeout, f"{count} SMS to {number}")

    def settled(self, number: str, seconds: float = 4) -> list[dict]:
        """What `number` received once nothing more arrived for `seconds` (the daemon sends within ~1 s)."""
        last, since = None, time.monotonic()
        while time.monotonic() - since < seconds:
            now = [m for m in self.sent() if m["to"] == number]
            if now != last:
                last, since = now, time.monotonic()
            time.sleep(0.2)
        return last or []

    def sim_status(self) -> dict:
        return control.send_request(str(self.control), {"cmd": "status"})

    def wait_sent(self, count: int, timeout: float = 60) -> list[dict]:
        return wait_for(lambda: (lambda s: s if len(s) >= count else None)(self.sent()), timeout,
                        f"{count} SMS sent by the modem", interval=0.05)

    # -- the store ---------------------------------------------------------------------------

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        if not self.database.exists():
            return []
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()
