"""The Dramatiq fork that serves the worker family's metrics (``WorkerMetrics.forks``).

Dramatiq imports a fork's module afresh in the fork's own process. This module holds only what
the fork runs, so that import is the logging set-up, the settings and the metrics: from among
the actors it imported all of them, 1.3 s of CPU spent in the first seconds of every drain.
"""

from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from app import logs
from app.metrics.exposition import exposition
from app.settings import settings

#: Where the exposition listens; the port is WORKER_METRICS_PORT.
EXPOSITION_HOST = "0.0.0.0"
METRICS_PATH = "/metrics"

# The fork's own lines (ready, stopping) come out in the shape of every other line, as the
# worker processes' do once their broker is built.
logs.configure(settings().log_format)


class _Exposition(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        if self.path != METRICS_PATH:
            self.send_error(404)
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are no news: nothing logged per request."""


def serve() -> int:
    """Serve the worker family's metrics until stopped."""
    server = HTTPServer((EXPOSITION_HOST, settings().worker_metrics_port), _Exposition)
    server.serve_forever()
    return 0
