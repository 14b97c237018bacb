"""Run the WSGI app: in the foreground for ``printfleet serve``, or in a thread for the demo and tests.

Werkzeug's threaded server handles HTTP and Socket.IO (threading mode with simple-websocket). For
larger fleets, run the app under gunicorn as docs/deployment.md describes.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, but a connection a WebSocket ended is closed instead of read as HTTP again.

    simple-websocket raises ConnectionError when a WebSocket session ends; without this the handler
    would parse the client's late WebSocket frames (the close frame) as a new HTTP request and log
    "Bad request syntax" errors.
    """

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True


class ServerThread:
    """A threaded HTTP server for ``app`` on ``host:port`` (port 0 takes a free one), run in the background."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        log.info("http server started url=%s", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        log.info("http server stopped url=%s", self.url)


class PortInUse(Exception):
    """The HTTP port is taken; the message names it and the fix."""


def check_port(host: str, port: int) -> None:
    """Raise PortInUse when ``host:port`` cannot be bound (Werkzeug would exit the process instead)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as err:
        raise PortInUse(f"cannot listen on {host}:{port}: {err.strerror}; pick another port with --port "
                        "or PRINTFLEET_PORT, or stop the program using it") from None
    finally:
        probe.close()


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so ``serve`` and ``demo`` shut down as on Ctrl-C."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def run_server(app: Any, host: str, port: int, on_ready: Any = None) -> None:
    """Serve ``app`` until interrupted (Ctrl-C or SIGTERM); call ``on_ready()`` once it listens."""
    check_port(host, port)
    server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    server.daemon_threads = True
    _stop_on_sigterm()
    if on_ready is not None:
        on_ready()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("interrupted; shutting down")
    finally:
        server.server_close()
