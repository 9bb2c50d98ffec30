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
    """The site on settings.web.host:port (port 0: any free port; `port` says which)."""

    def __init__(self, settings: Settings):
        import waitress.server

        self.settings = settings
        self.app = create_app(settings)
        web = settings.web
        self._server = waitress.server.create_server(
            self.app, host=web.host, port=web.port, threads=web.threads, ident="barriosms",
            max_request_body_size=MAX_BODY, max_request_header_size=32 * 1024,
            # X-Forwarded-For reaches the app, which believes it only behind [web] trusted_proxies (ProxyFix).
            clear_untrusted_proxy_headers=False, channel_timeout=30, connection_limit=200,
        )
        self.port: int = self._server.effective_port
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        host = self.settings.web.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self._stop.set()

    def serve_forever(self, notifier: Notifier | None = None) -> int:
        notifier = notifier or Notifier()
        thread = threading.Thread(target=self._run, name="waitress", daemon=True)
        thread.start()
        log.info("website listening on %s (database %s)", self.url, self.settings.database.target
                 if not self.settings.database.url else "postgresql")
        notifier.ready(f"serving on {self.url}")
        while not self._stop.wait(1.0):
            if not thread.is_alive():
                log.error("the web server stopped by itself; exiting so that systemd restarts it")
                return 1
        notifier.stopping("stopping")
        log.info("website stopping")
        self._close(thread)
        return 0

    def _close(self, thread: threading.Thread) -> None:
        """Close the listening socket and every open connection (browsers keep some alive) from
        inside waitress's own loop, which then ends; let running requests finish (5 s at most)."""
        from waitress import wasyncore

        server = self._server
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:
            # The loop already closed its trigger (it is ending by itself): close what is left here.
            server.close()
        thread.join(10)
        if thread.is_alive():
            log.warning("the web server's loop did not end within 10 s; exiting anyway")
        server.task_dispatcher.shutdown(timeout=5)

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # close() from the main thread ends the loop with EBADF on the closed socket.
            if not self._stop.is_set():
                raise


def run(settings: Settings) -> int:
    server = WebServer(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return server.serve_forever()
