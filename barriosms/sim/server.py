"""The simulated modem on a pseudo-terminal, with a control socket beside it.

Single-threaded: one selectors loop serves the pty (Gammu on the other side) and the control
socket (JSON lines: one request per line, one answer per line). Signal handlers only set a flag.

The paths it is given are replaced only when they hold what the modem itself makes: a symlink at
--device, a socket nobody listens on at --control (left by a modem killed with SIGKILL). Anything
else there (a file given by a slip, a modem still serving) is refused before anything is made.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pty
import selectors
import signal
import socket
import stat
import sys
import time
import tty
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from barriosms.sim.atmodem import RING_INTERVAL, RING_SECONDS, ATModem
from barriosms.sim.faults import FaultError

log = logging.getLogger(__name__)

# What the modem said that nobody has read yet (no client has the port open, or it stopped
# reading) is kept up to this size; beyond it the oldest bytes go, as a tty buffer overflows.
MAX_UNREAD = 64 * 1024


class Trace:
    """Optional AT trace file: one line per chunk, with time and direction."""

    def __init__(self, path: str | None):
        # "-": standard output, as for every file a barriosms command writes.
        self._own = bool(path) and path != "-"
        self._fh = (open(path, "a", encoding="utf-8") if self._own else sys.stdout) if path else None

    def write(self, direction: str, data: bytes) -> None:
        if self._fh and data:
            self._fh.write(f"{time.time():.6f} {direction} {data!r}\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh and self._own:
            self._fh.close()


class SimServer:
    def __init__(self, modem: ATModem, device: str, control: str, trace: str | None = None):
        self.modem = modem
        self.device = Path(device)
        self.control = Path(control)
        self.trace = Trace(trace)
        self.stop = False
        self._clients: dict[socket.socket, bytearray] = {}
        self._unread = bytearray()  # modem output the pty did not take yet
        self._pts = ""
        self._control_inode = -1  # the control socket this server made (removed at close, only it)
        # The control protocol: one entry per command; a handler takes the request and returns
        # the answer's fields (ValueError: {"ok": false, "error": ...}).
        self.handlers: dict[str, Callable[[dict], dict]] = {
            "text": self._text,
            "sent": lambda req: {"messages": self.modem.sent_messages()},
            "status": lambda req: self.modem.status(),
            "signal": self._signal,
            "autoreply": lambda req: {"autoresponders": self.modem.set_autoresponder(
                req["number"], req.get("text"), float(req.get("delay", 1.0)))},
            "commands": lambda req: {"commands": [{"at_epoch": t, "line": c} for t, c in self.modem.commands]},
            "fault": self._fault,
            "faults": lambda req: {"active": dict(self.modem.faults)},
            "ussd": self._ussd,
            "call": self._call,
        }
        self.vanished = False
        self._sel: selectors.BaseSelector | None = None

    # -- setup ---------------------------------------------------------------------------------

    def open(self) -> str:
        _check_link_path(self.device, "--device")
        _clear_control_path(self.control)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.control))
        self._control_inode = os.stat(self.control).st_ino
        self.listener.listen(8)
        self.listener.setblocking(False)
        try:
            return self._open_pty()
        except BaseException:
            self._remove_control()
            raise

    def _open_pty(self) -> str:
        self.master, self.slave = pty.openpty()
        # Raw: no line discipline between Gammu and the modem (no echo, no CR/LF translation).
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        # The slave stays open here for the modem's whole life: with no slave fd open, reads on
        # the master fail with EIO between two clients.
        name = os.ttyname(self.slave)
        _replace_symlink(self.device, name)
        self._pts = name
        return name

    def _close_pty(self) -> None:
        try:
            if os.readlink(self.device) == self._pts:  # another modem may have taken the path since
                self.device.unlink()
        except (FileNotFoundError, OSError):
            pass
        os.close(self.master)
        os.close(self.slave)
        self._unread.clear()

    def close(self) -> None:
        for sock in list(self._clients):
            sock.close()
        self._remove_control()
        if not self.vanished:
            self._close_pty()
        self.trace.close()

    def _remove_control(self) -> None:
        self.listener.close()
        try:
            # Only our own socket: another modem may have been started on the path since.
            if os.lstat(self.control).st_ino == self._control_inode:
                self.control.unlink()
        except FileNotFoundError:
            pass

    # -- faults -------------------------------------------------------------------------------

    def _fault(self, request: dict) -> dict:
        try:
            if request.get("clear"):
                was_vanished = "vanish" in self.modem.faults
                self.modem.clear_fault()
                if was_vanished:
                    self._replug()
            elif "on" in request:
                name = request["on"]
                self.modem.set_fault(name, **(request.get("args") or {}))
                if name == "vanish" and not self.vanished:
                    self._unplug()
            elif "off" in request:
                name = request["off"]
                self.modem.clear_fault(name)
                if name == "vanish" and self.vanished:
                    self._replug()
            else:
                raise FaultError("say on NAME, off NAME or clear")
        except FaultError as exc:
            raise ValueError(str(exc)) from None
        log.info("faults now: %s", self.modem.faults or "none")
        return {"active": dict(self.modem.faults)}

    def _unplug(self) -> None:
        if self._sel is not None:
            self._sel.unregister(self.master)
        self._close_pty()
        self.vanished = True
        log.info("device %s vanished", self.device)

    def _replug(self) -> None:
        name = self._open_pty()
        if self._sel is not None:
            self._sel.register(self.master, selectors.EVENT_READ, "pty")
        self.vanished = False
        self.modem.power_cycle()  # starts with its defaults; nothing said while unplugged gets through
        log.info("device %s is back on %s", self.device, name)

    def _signal(self, request: dict) -> dict:
        rssi = int(request["rssi"])
        if not (0 <= rssi <= 31 or rssi == 99):
            raise ValueError("rssi is 0-31 (27.007 +CSQ), or 99 for unknown")
        self.modem.signal_rssi = rssi
        return {"rssi": rssi}

    def _call(self, request: dict) -> dict:
        number = request.get("from", "")
        if not isinstance(number, str):
            raise ValueError("'from' must be a string (empty: a withheld number)")
        call = self.modem.ring(number, float(request.get("ring_seconds", RING_SECONDS)),
                               float(request.get("interval", RING_INTERVAL)))
        log.info("incoming call from %s: ringing", number or "a withheld number")
        return {"call": call}

    def _ussd(self, request: dict) -> dict:
        self.modem.ussd_answers[str(request["code"])] = str(request["answer"])
        return {"answers": dict(self.modem.ussd_answers)}

    # -- loop ----------------------------------------------------------------------------------

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        self._sel = sel
        sel.register(self.master, selectors.EVENT_READ, "pty")
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        while not self.stop:
            timer = self.modem.next_timer()
            timeout = 0.2 if timer is None else min(0.2, timer)
            for key, events in sel.select(timeout=timeout):
                if key.data == "pty":
                    if events & selectors.EVENT_READ:
                        self._from_pty()
                elif key.data == "listen":
                    self._accept(sel)
                else:
                    self._from_client(sel, key.fileobj)
            self.modem.tick()
            self._to_pty()
            self._want_write(sel)

    def _from_pty(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # EIO: nobody has the slave open right now; Gammu may come back.
            time.sleep(0.05)
            return
        self.trace.write("in ", data)
        self.modem.feed(data)

    def _to_pty(self) -> None:
        """Write what the modem said, without ever blocking the loop on a client that does not read."""
        if self.vanished:
            return  # output waits in the modem; _replug drops it
        out = self.modem.take_output()
        if out:
            self.trace.write("out", out)
            self._unread += out
        if len(self._unread) > MAX_UNREAD:
            log.warning("nobody reads the modem: %d bytes of its output dropped", len(self._unread) - MAX_UNREAD)
            del self._unread[:-MAX_UNREAD]
        while self._unread:
            try:
                n = os.write(self.master, self._unread)
            except (BlockingIOError, InterruptedError):
                return  # the pty is full: the selector says when it can take more
            except OSError as exc:
                log.warning("writing to the pty failed (%s): output dropped", exc)
                self._unread.clear()
                return
            del self._unread[:n]

    def _want_write(self, sel: selectors.BaseSelector) -> None:
        """Ask the selector for EVENT_WRITE on the pty only while output is waiting (else it spins)."""
        if self.vanished:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._unread else 0)
        if sel.get_key(self.master).events != events:
            sel.modify(self.master, events, "pty")

    def _accept(self, sel: selectors.BaseSelector) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._clients[conn] = bytearray()
        sel.register(conn, selectors.EVENT_READ, "client")

    def _from_client(self, sel: selectors.BaseSelector, conn: Any) -> None:
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            self._clients.pop(conn, None)
            conn.close()
            return
        buf = self._clients[conn]
        buf += data
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            answer = self.handle(line)
            conn.settimeout(2)  # a control client that does not read must not stop the modem
            try:
                conn.sendall(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n")
            except OSError as exc:
                log.warning("control client went away before its answer: %s", exc)
            finally:
                conn.setblocking(False)

    def handle(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            handler = self.handlers.get(request.get("cmd", ""))
            if handler is None:
                return {"ok": False, "error": f"unknown command {request.get('cmd')!r}; known: {sorted(self.handlers)}"}
            result = handler(request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return {"ok": False, "error": str(exc) if isinstance(exc, ValueError) else f"bad request: {exc!r}"}
        return {"ok": True, **result}

    def _text(self, request: dict) -> dict:
        sender, text = request["from"], request["text"]
        if not isinstance(sender, str) or not isinstance(text, str) or not sender:
            raise ValueError("'from' and 'text' must be strings")
        result = self.modem.deliver_sms(sender, text)
        log.info("SMS from %s arrived: %d part(s) in slots %s", sender, result["parts"], result["slots"])
        return result


def _check_link_path(link: Path, option: str) -> None:
    if (link.exists() or link.is_symlink()) and not link.is_symlink():
        # Never replace a real file or device node (say --device /dev/ttyUSB0 by mistake).
        raise FileExistsError(f"{link} exists and is not a symlink: choose another {option} path")


def _clear_control_path(path: Path) -> None:
    """Make room for the control socket: remove a stale one, refuse anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket: choose another --control path")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:  # refused: the modem that made it is gone
            path.unlink()
            return
    raise FileExistsError(f"another simulated modem serves on {path}: stop it first, or choose another --control "
                          "path")


def _replace_symlink(link: Path, target: str) -> None:
    _check_link_path(link, "--device")
    # Made under a fresh name of our own first: an existing file of any name is never touched.
    for n in itertools.count():
        tmp = link.with_name(f".{link.name}.{os.getpid()}-{n}.tmp")
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    os.replace(tmp, link)  # atomic: a client never sees the path missing


def run(device: str, control: str, *, slots: int = 30, smsc: str = "+59170000000", trace: str | None = None,
        faults: Sequence[tuple[str, dict]] = (), ready: Callable[[str], None] | None = None, signal_rssi: int = 20) -> int:
    """Serve the modem until SIGTERM/SIGINT; `ready(pts)` is called once the pty and socket exist."""
    modem = ATModem(slots=slots, smsc=smsc, signal_rssi=signal_rssi)
    for name, args in faults:
        modem.set_fault(name, **args)
    server = SimServer(modem, device, control, trace)

    def on_signal(signum: int, frame: Any) -> None:
        server.stop = True  # only a flag: the loop notices within 0.2 s

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    name = server.open()
    if "vanish" in modem.faults:
        server._unplug()
    try:
        if ready:
            ready(name)
        server.serve()
    finally:
        server.close()
    return 0
