"""`barriosms web`: the application under waitress, a production WSGI server that runs on a Pi.

The server runs in its own thread; the main thread waits for a signal flag (SIGTERM/SIGINT stop,
SIGHUP is ignored: the site reads the config once and a restart is instant). Under systemd it
reports READY once listening and STOPPING on the way out.
"""

from __future__ import annotations

import logging
import signal
import threading

from barriosms.config import Settings
from barriosms.operations.sdnotify import Notifier
from barriosms.web.app import MAX_BODY, create_app

log = logging.getLogger(__name__)


class WebServer:
    """The site on settings.web.host:port (port 0: any free port; `port` says which), and the staff
    back-office on [staff] listen when it has its own address (`staff_port`, `staff_url`)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        web = settings.web
        self._server = _waitress(self.app, web.host, web.port, web.threads)
        self.port: int = self._server.effective_port
        self._servers = [self._server]
        self.staff_port: int | None = None
        self.staff_app = self.app  # the application that serves /personal/
        staff = settings.staff
        if staff.enabled and staff.listen is not None:
            host, port = staff.listen
            # A few clerks, not the public: fewer threads do.
            self.staff_app = create_app(settings, site="staff")
            server = _waitress(self.staff_app, host, port, max(2, web.threads // 2))
            self.staff_port = server.effective_port
            self._servers.append(server)
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return _url(self.settings.web.host, self.port)

    @property
    def staff_url(self) -> str:
        """Where staff log in: the back-office's own address, or /personal/ of the site."""
        if self.staff_port is not None and self.settings.staff.listen is not None:
            return _url(self.settings.staff.listen[0], self.staff_port) + "/personal/"
        return self.url + "/personal/"

    def stop(self) -> None:
        self._stop.set()

    def serve_forever(self, notifier: Notifier | None = None) -> int:
        notifier = notifier or Notifier()
        threads = [threading.Thread(target=self._run, args=(server,), name="waitress", daemon=True)
                   for server in self._servers]
        for thread in threads:
            thread.start()
        log.info("website listening on %s (database %s)", self.url, self.settings.database.target
                 if not self.settings.database.url else "postgresql")
        if self.settings.staff.enabled:
            log.info("staff back-office on %s", self.staff_url)
        notifier.ready(f"serving on {self.url}")
        while not self._stop.wait(1.0):
            if not all(thread.is_alive() for thread in threads):
                log.error("the web server stopped by itself; exiting so that systemd restarts it")
                return 1
        notifier.stopping("stopping")
        log.info("website stopping")
        for server, thread in zip(self._servers, threads):
            self._close(server, thread)
        return 0

    def _close(self, server, thread: threading.Thread) -> None:
        """Close the listening socket and every open connection (browsers keep some alive) from
        inside waitress's own loop, which then ends; let running requests finish (5 s at most)."""
        from waitress import wasyncore

        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            # The loop already closed its trigger (it is ending by itself): close what is left here.
            server.close()
        thread.join(10)
        if thread.is_alive():
            log.warning("the web server's loop did not end within 10 s; exiting anyway")
        server.task_dispatcher.shutdown(timeout=5)

    def _run(self, server) -> None:
        try:
            server.run()
        except OSError:
            # close() from the main thread ends the loop with EBADF on the closed socket.
            if not self._stop.is_set():
                raise


def _waitress(app, host: str, port: int, threads: int):
    import waitress.server

    return waitress.server.create_server(
        app, host=host, port=port, threads=threads, ident="barriosms",
        max_request_body_size=MAX_BODY, max_request_header_size=32 * 1024,
        # X-Forwarded-For reaches the app, which believes it only behind [web] trusted_proxies (ProxyFix).
        clear_untrusted_proxy_headers=False, channel_timeout=30, connection_limit=200,
    )


def _url(host: str, port: int) -> str:
    host = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{host}:{port}"


def run(settings: Settings) -> int:
    server = WebServer(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return server.serve_forever()
