"""`--port`: GET (and HEAD) /health, /ready and /metrics, on the bounded server (httpserver.py).

/health is 200 while the scheduling loop is alive, /ready is 200 when a config is
applied and runs can be recorded, /metrics is `sqlsentinel metrics`' text. Each probe
answers 503 with the reason otherwise. More routes (a status page, an API) go in the same
router.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlsentinel.daemon.http_parse import Request
from sqlsentinel.daemon.httpserver import BoundedServer, Response, Route, Router
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


def probe_router(probes: Probes) -> Router:
    """The probe routes; /health runs on the server's loop (it only reads a clock)."""

    def answer(probe: Probe) -> Callable[[Request], Response]:
        def handler(_: Request) -> Response:
            ok, why = probe()
            return Response.text(200 if ok else 503, why + "\n")

        return handler

    def metrics(_: Request) -> Response:
        return Response(200, probes.metrics().encode("utf-8"), METRICS_TYPE)

    router = Router(not_found="not found: try /health, /ready or /metrics\n")
    router.add("/health", Route(answer(probes.health), quick=True))
    router.add("/ready", Route(answer(probes.ready)))
    router.add("/metrics", Route(metrics))
    return router


class ProbeServer:
    """The probes on (host, port)."""

    def __init__(self, host: str, port: int, probes: Probes) -> None:
        try:
            self.server = BoundedServer(host, port, probe_router(probes))
        except OSError as exc:
            raise UsageError(f"--port {port}: cannot listen on {host}: {exc.strerror}") from None

    def start(self) -> None:
        """Serve in the background."""
        self.server.start()
        host, port = self.server.address
        log.info("serving /health, /ready and /metrics on http://%s:%s", host, port)

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()
