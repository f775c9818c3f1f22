"""`--port`: GET /health, /ready and /metrics from a thread (stdlib http.server).

/health is 200 while the scheduling loop is alive, /ready is 200 when a config is
applied and the state database answers, /metrics is `sqlsentinel metrics`' text.
Each probe answers 503 with the reason otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlsentinel.errors import UsageError

log = logging.getLogger("sqlsentinel.daemon")
Probe = Callable[[], tuple[bool, str]]
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Probes:
    """What the endpoints ask the daemon."""

    health: Probe
    ready: Probe
    metrics: Callable[[], str]


def _handler(probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._send(200, probes.metrics(), METRICS_TYPE)
                elif path in ("/health", "/ready"):
                    ok, why = (probes.health if path == "/health" else probes.ready)()
                    self._send(200 if ok else 503, why + "\n")
                else:
                    self._send(404, "not found: try /health, /ready or /metrics\n")
            except Exception as exc:  # a probe failed: say so, keep serving
                self._send(503, f"{type(exc).__name__}: {exc}\n")

        def _send(self, code: int, body: str, kind: str = "text/plain; charset=utf-8") -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    return Handler


class ProbeServer:
    """The HTTP server and its thread."""

    def __init__(self, host: str, port: int, probes: Probes) -> None:
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(probes))
        except OSError as exc:
            raise UsageError(f"--port {port}: cannot listen on {host}: {exc.strerror}") from None
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        """Serve in the background."""
        self.thread.start()
        host, port = self.server.server_address[:2]
        log.info("serving /health, /ready and /metrics on http://%s:%s", host, port)

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
