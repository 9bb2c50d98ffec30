"""The simulated modem on a pseudo-terminal, with a control socket beside it.

Single-threaded: one selectors loop serves the pty (Gammu on the other side) and the control
socket (JSON lines: one request per line, one answer per line). Signal handlers only set a flag.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import selectors
import signal
import socket
import time
import tty
from pathlib import Path
from typing import Any, Callable

from .atmodem import ATModem

log = logging.getLogger(__name__)


class Trace:
    """Optional AT trace file: one line per chunk, with time and direction."""

    def __init__(self, path: str | None):
        self._fh = open(path, "a", encoding="utf-8") if path else None

    def write(self, direction: str, data: bytes) -> None:
        if self._fh and data:
            self._fh.write(f"{time.time():.6f} {direction} {data!r}\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh:
            self._fh.close()


class SimServer:
    def __init__(self, modem: ATModem, device: str, control: str, trace: str | None = None):
        self.modem = modem
        self.device = Path(device)
        self.control = Path(control)
        self.trace = Trace(trace)
        self.stop = False
        self._clients: dict[socket.socket, bytearray] = {}
        self.handlers: dict[str, Callable[[dict], dict]] = {
            "text": self._text,
            "sent": lambda req: {"messages": self.modem.sent_messages()},
            "status": lambda req: self.modem.status(),
            "commands": lambda req: {"commands": [{"at_epoch": t, "line": c} for t, c in self.modem.commands]},
        }

    # -- setup ---------------------------------------------------------------------------------

    def open(self) -> str:
        self.master, self.slave = pty.openpty()
        # Raw: no line discipline between Gammu and the modem (no echo, no CR/LF translation).
        tty.setraw(self.slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        name = os.ttyname(self.slave)
        _replace_symlink(self.device, name)
        if self.control.exists() or self.control.is_symlink():
            self.control.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.control))
        self.listener.listen(8)
        self.listener.setblocking(False)
        return name

    def close(self) -> None:
        for sock in list(self._clients):
            sock.close()
        self.listener.close()
        for path in (self.device, self.control):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        os.close(self.master)
        os.close(self.slave)
        self.trace.close()

    # -- loop ----------------------------------------------------------------------------------

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.master, selectors.EVENT_READ, "pty")
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        while not self.stop:
            for key, _ in sel.select(timeout=0.2):
                if key.data == "pty":
                    self._from_pty()
                elif key.data == "listen":
                    self._accept(sel)
                else:
                    self._from_client(sel, key.fileobj)
            self._to_pty()

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
        out = self.modem.take_output()
        if not out:
            return
        self.trace.write("out", out)
        view = memoryview(out)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                time.sleep(0.001)

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
            conn.setblocking(True)
            try:
                conn.sendall(json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n")
            except OSError:
                pass
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
            return {"ok": False, "error": f"bad request: {exc}"}
        return {"ok": True, **result}

    def _text(self, request: dict) -> dict:
        sender, text = request["from"], request["text"]
        if not isinstance(sender, str) or not isinstance(text, str) or not sender:
            raise ValueError("'from' and 'text' must be strings")
        result = self.modem.deliver_sms(sender, text)
        log.info("SMS from %s arrived: %d part(s) in slots %s", sender, result["parts"], result["slots"])
        return result


def _replace_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(link.name + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)  # atomic: a client never sees the path missing


def run(device: str, control: str, *, slots: int = 30, smsc: str = "+59170000000", trace: str | None = None,
        ready: Callable[[str], None] | None = None) -> int:
    server = SimServer(ATModem(slots=slots, smsc=smsc), device, control, trace)

    def on_signal(signum: int, frame: Any) -> None:
        server.stop = True  # only a flag: the loop notices within 0.2 s

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    name = server.open()
    try:
        if ready:
            ready(name)
        server.serve()
    finally:
        server.close()
    return 0
