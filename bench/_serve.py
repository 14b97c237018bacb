"""Serve the printfleet app or a bare Flask baseline under one server configuration, for the benchmarks.

    python -m bench._serve --app printfleet|bare --port P [--database URL] [--server werkzeug|gunicorn] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def bare_app() -> Any:
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.post("/cloudprnt/<key>/poll")
    def poll(key: str) -> Any:
        return jsonify({"jobReady": False})

    return app


def printfleet_app(database_url: str) -> Any:
    from fleet.app import create_app

    # The benchmark measures the poll path, so background work that would compete for the CPU is off.
    return create_app({"database_url": database_url, "env": "test", "log_level": "WARNING",
                       "outbox_worker_enabled": False}, start_workers=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", choices=["printfleet", "bare"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", default="")
    parser.add_argument("--server", choices=["werkzeug", "gunicorn"], default="werkzeug")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    def build() -> Any:
        return bare_app() if args.app == "bare" else printfleet_app(args.database)

    if args.server == "werkzeug":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", args.port, build(), threaded=True)
        print("ready", flush=True)
        server.serve_forever()
        return

    from gunicorn.app.base import BaseApplication

    class Standalone(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"127.0.0.1:{args.port}", "workers": args.workers, "worker_class": "gthread",
                               "threads": 8, "loglevel": "warning", "accesslog": None}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return build()

    print("ready", flush=True)
    Standalone().run()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
