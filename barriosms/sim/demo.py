"""`./scripts/demo`: the gateway on a simulated modem, to try it without hardware.

With a terminal, you text as a resident and act as staff. Without one (CI, a pipe), it plays a
scripted conversation, prints it, stops everything it started and exits 0 only if every expected SMS
came back.

Its folder is cleared at every start, so it must never be a folder with someone's files in it
(`--folder .` once deleted the checkout it ran in). The demo writes a marker file into a folder it
creates (or an empty one it is given) and later deletes only the files a rig makes, only in a
folder with that marker; any other non-empty folder is refused before anything is touched.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import cast

from barriosms.operations import runlock
from barriosms.sim.control import SimControlError
from barriosms.sim.rig import Rig, RigError, wait_for

ROOT = Path(__file__).resolve().parents[2]  # the checkout: barriosms/sim/demo.py
DEFAULT_FOLDER = ROOT / "demo"
# Written into every folder the demo makes its own: only there does it delete anything.
MARKER = ".barriosms-demo"
MARKER_TEXT = ("This folder belongs to barriosms' ./scripts/demo: every run deletes the files the demo made\n"
               "here (config, database, logs) and starts afresh. Other files are left alone. Delete this file\n"
               "to keep the demo from ever touching the folder again.\n")
RESIDENT = "+59171234567"
NEIGHBOUR = "+59176543210"
TRACKING = re.compile(r"\b\d{7}\b")


def say(who: str, text: str) -> None:
    print(f"{who:>22} | {text}", flush=True)


class Demo:
    def __init__(self, rig: Rig):
        self.rig = rig
        self.seen = 0

    def send(self, number: str, text: str) -> None:
        say(f"resident {number}", text)
        self.rig.text(number, text)

    def replies(self, count: int = 1, timeout: float = 30) -> list[dict]:
        try:
            wait_for(lambda: len(self.rig.sent()) >= self.seen + count, timeout, f"{count} SMS from the gateway")
        except RigError:
            pass
        new = self.rig.sent()[self.seen:]
        self.seen += len(new)
        for m in new:
            say(f"gateway -> {m['to']}", m["text"])
        return new

    def staff(self, *args: str) -> str:
        say("staff (CLI)", "barriosms " + " ".join(args))
        out = self.rig.cli(*args, check=False)
        for line in (out.stdout + out.stderr).strip().splitlines():
            say("", line)
        if out.returncode != 0:
            raise RigError(f"barriosms {' '.join(args)} failed")
        return out.stdout


def scripted(demo: Demo) -> bool:
    print("\nA scripted conversation (run ./scripts/demo in a terminal to type your own):\n")
    demo.send(RESIDENT, "B12 hay un bache grande en la calle 3")
    [reply] = cast("list[dict | None]", demo.replies(1)) or [None]  # one reply, or None
    found = TRACKING.search(reply["text"]) if reply else None
    if not found:
        print("\nno tracking number came back: see demo/daemon.log", file=sys.stderr)
        return False
    tracking = found.group()
    demo.send(RESIDENT, tracking)
    ok = bool(demo.replies(1))
    demo.staff("cases", "status", tracking, "in_progress", "--note", "La cuadrilla ira el lunes")
    ok = bool(demo.replies(1)) and ok
    demo.send(NEIGHBOUR, "hola, como reporto un problema?")
    ok = bool(demo.replies(1)) and ok
    # Two steps: the neighbourhood forgotten, then given by name.
    demo.send(NEIGHBOUR, "hay basura acumulada en la esquina hace una semana")
    ok = bool(demo.replies(1)) and ok
    demo.send(NEIGHBOUR, "Sopocachi")
    [second] = cast("list[dict | None]", demo.replies(1)) or [None]
    ok = bool(second and TRACKING.search(second["text"])) and ok
    ok = web_report(demo) and ok
    demo.staff("cases", "list")
    demo.staff("report", "hotspots")
    return ok


WEB_RESIDENT = "+59170000123"
DEMO_SERVICE = {"loop_fast_seconds": 1, "loop_typing_chars_per_second": 15}


def web_report(demo: Demo) -> bool:
    """A neighbour reports on the website with a phone: the tracking number comes by SMS too."""
    base = demo.rig.web_url
    form_page = urllib.request.urlopen(f"{base}/reportar", timeout=10).read().decode()
    token = re.search(r'name="token" value="([^"]+)"', form_page)
    if not token:
        print("the report form has no token: see demo/web.log", file=sys.stderr)
        return False
    fields = {"barrio": "Miraflores", "categoria": "", "descripcion": "Un poste de luz esta caido en la plaza",
              "telefono": WEB_RESIDENT[4:], "token": token.group(1)}
    say("resident on the web", f"{base}/reportar: Miraflores, \"{fields['descripcion']}\", {fields['telefono']}")
    request = urllib.request.Request(f"{base}/reportar", data=urllib.parse.urlencode(fields).encode(),
                                     headers={"Origin": base})
    with urllib.request.urlopen(request, timeout=10) as answer:  # follows the 303 to the case page
        shown = re.search(r'id="numero-seguimiento"[^>]*>\s*(\d{7})', answer.read().decode())
    say("website", f"{answer.url}: numero {shown.group(1) if shown else '?'}")
    sms = demo.replies(1)
    return bool(shown and sms and shown.group(1) in sms[0]["text"])


HELP = """Type an SMS as a resident and press Enter. Staff commands start with '/':
  /numero +5917xxxxxxx      text from another phone (now {number})
  /casos                    list cases
  /sin-barrio               messages waiting for their neighbourhood (inbox list --unmatched)
  /prioridades              what to fix first (report hotspots)
  /estado NUMERO ESTADO [nota]   change a case (received reviewing in_progress resolved closed rejected)
  /llamar                   call the municipal number from this phone (a missed call to call back)
  /llamadas                 who called and waits to be called back (callbacks list)
  /salir                    stop the demo"""


def interactive(demo: Demo) -> bool:
    number = RESIDENT
    print("\n" + HELP.format(number=number) + "\n")
    while True:
        try:
            line = input(f"{number}> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return True
        if not line:
            continue
        try:
            if line in ("/salir", "/exit", "/quit"):
                return True
            if line.startswith("/numero "):
                number = line.split(maxsplit=1)[1]
            elif line == "/casos":
                demo.staff("cases", "list")
            elif line == "/sin-barrio":
                demo.staff("inbox", "list", "--unmatched")
            elif line == "/prioridades":
                demo.staff("report", "hotspots")
            elif line == "/llamar":
                say(f"resident {number}", "(calls the municipal number)")
                demo.rig.call(number)
                demo.replies(1, timeout=8)  # none when the phone called already: one request, one SMS
            elif line == "/llamadas":
                demo.staff("callbacks", "list")
            elif line.startswith("/estado "):
                parts = line.split(maxsplit=3)
                if len(parts) < 3:
                    print("use: /estado NUMERO ESTADO [nota]")
                    continue
                demo.staff("cases", "status", parts[1], parts[2], *(["--note", parts[3]] if len(parts) > 3 else []))
                demo.replies(1, timeout=15)
            elif line.startswith("/"):
                print(HELP.format(number=number))
            else:
                demo.send(number, line)
                demo.replies(1, timeout=15)
        except (RigError, SimControlError) as exc:
            print(f"error: {exc}")


class FolderRefused(Exception):
    """The demo will not use this folder; the message names it and says what to do."""


def prepare_folder(folder: Path) -> Path:
    """Make `folder` ready for a fresh demo and return it (absolute), or raise FolderRefused.

    A fresh demo every time (old cases would only confuse the conversation), but the demo deletes
    only what it made: a new or empty folder is marked as its own; in a marked folder the files a
    rig makes are removed (other files stay); any other folder is refused, untouched.
    """
    folder = Path(os.path.abspath(folder))  # "." becomes a name a person recognises in the message
    if folder.exists() and not folder.is_dir():
        raise FolderRefused(f"{folder} is not a folder. Give a new or empty folder: "
                            "./scripts/demo --folder /tmp/barriosms-demo")
    marker = folder / MARKER
    if not folder.exists() or not any(folder.iterdir()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(MARKER_TEXT, encoding="utf-8")
        except OSError as exc:
            raise FolderRefused(f"cannot use {folder}: {exc.strerror}. Give a folder you may write in: "
                                "./scripts/demo --folder /tmp/barriosms-demo") from None
        return folder
    # A symlink could point at any file: only a marker the demo wrote itself counts.
    if marker.is_symlink() or not marker.is_file():
        hint = (f" If it is left over from an older demo (they made no {MARKER}), delete it yourself "
                f"(rm -r {folder}) and run the demo again." if folder == DEFAULT_FOLDER else "")
        raise FolderRefused(
            f"{folder} is not empty and was not made by the demo (it has no {MARKER} file). The demo starts "
            f"afresh by deleting what it made in its folder, so it does not touch a folder of someone else's "
            f"files. Give a new or empty folder instead: ./scripts/demo --folder /tmp/barriosms-demo.{hint}")
    database = folder / Rig.DATABASE
    pid = runlock.holder(database)
    if pid is not None:
        who = f"pid {pid}" if pid else "a process"
        raise FolderRefused(f"a barriosms daemon ({who}) still runs on {database}, left by an earlier demo: stop it "
                            f"(kill {pid or 'PID'}) and run the demo again, or give another --folder")
    for path in Rig.files_in(folder):
        # Only files, links and sockets of the rig's names: never a folder, whatever its name.
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER),
                        help="where to keep the demo's files: a new or empty folder, or one an earlier demo made "
                             "(default: demo/ in the checkout)")
    parser.add_argument("--scripted", action="store_true", help="play the scripted conversation even in a terminal")
    parser.add_argument("--web-port", type=int, default=8080, help="the website's port (another if it is taken)")
    args = parser.parse_args(argv)
    try:
        folder = prepare_folder(Path(args.folder))
    except FolderRefused as exc:
        print(f"scripts/demo: {exc}", file=sys.stderr)
        return 2
    # The resident here types on a keyboard, not on a phone keypad, and may answer faster than any
    # phone allows: the loop guard allows for a fast typist (see [service] loop_* in the README).
    rig = Rig(folder, poll_seconds=5, service_options=DEMO_SERVICE)
    print(f"demo folder: {folder} (config {rig.config.name}, database {rig.database.name}, logs *.log)")
    started = time.monotonic()
    try:
        rig.setup(ROOT / "config" / "neighborhoods-lapaz.csv")
        print("neighbourhoods loaded:", ", ".join(h["code"] for h in rig.cli_json("neighborhoods", "list")))
        rig.start_sim()
        print("starting the daemon; Gammu takes a few seconds to initialise the modem...")
        rig.start_daemon()
        print(f"gateway up in {time.monotonic() - started:.1f} s")
        try:
            url = rig.start_web(f"127.0.0.1:{args.web_port}")
        except RigError:  # the port is taken: any free one will do
            url = rig.start_web("127.0.0.1:0")
        print(f"website: {url} (report, follow, list and map; the tracking SMS leaves through the modem)")
        demo = Demo(rig)
        ok = interactive(demo) if (sys.stdin.isatty() and not args.scripted) else scripted(demo)
    except RigError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        ok = False
    finally:
        codes = rig.stop()
        print(f"stopped the website, the daemon and the simulated modem (exit codes {codes})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
