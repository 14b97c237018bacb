"""Local stand-ins for the peers notifications talk to: a Twilio-style SMS gateway, the WooCommerce
REST API, and a PrinterCo ``notify_url`` receiver.

Each stand-in checks what it receives (path, basic auth, body) and records every request. Setting
``failures`` makes it fail the next requests, to test retries."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    #: HTTP status the stand-in returned.
    status: int = 0

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


#: Status and body, and optionally extra response headers.
Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class StandIn:
    """An HTTP server on a free port. ``respond`` builds each response unless a failure is scheduled."""

    respond: Callable[[Seen], Reply]
    seen: list[Seen] = field(default_factory=list)
    #: How many upcoming requests get ``fail_status`` instead of a real response.
    failures: int = 0
    fail_status: int = 503

    def start(self) -> StandIn:
        stand_in = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()),
                               self.rfile.read(length) if length else b"")
                with lock:
                    headers: dict[str, str] = {}
                    if stand_in.failures > 0:
                        stand_in.failures -= 1
                        status, body = stand_in.fail_status, {"message": "stand-in failure"}
                    else:
                        reply = stand_in.respond(request)
                        status, body = reply[0], reply[1]
                        headers = reply[2] if len(reply) > 2 else {}  # type: ignore[misc]
                    request.status = status
                    stand_in.seen.append(request)
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, (str, bytes)) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def succeeded(self) -> list[Seen]:
        return [request for request in list(self.seen) if 200 <= request.status < 300]


TWILIO_SID = "AC" + "0" * 30 + "42"
TWILIO_TOKEN = "twilio-auth-token-0123456789"


def twilio_gateway(sid: str = TWILIO_SID, token: str = TWILIO_TOKEN) -> StandIn:
    """A stand-in for ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with Twilio's checks and responses."""
    counter = iter(range(1, 1_000_000))

    def respond(request: Seen) -> Reply:
        if request.method != "POST" or request.path != f"/2010-04-01/Accounts/{sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        if request.basic_auth() != (sid, token):
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        form = request.form()
        if not re.fullmatch(r"\+[1-9]\d{6,14}", form.get("To", "")) or form["To"].startswith("+1555"):
            return 400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                         "status": 400}
        if not form.get("From") or not form.get("Body"):
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}
        return 201, {"sid": f"SM{next(counter):032d}", "status": "queued", "to": form["To"], "from": form["From"],
                     "body": form["Body"], "num_segments": "1", "error_code": None}

    return StandIn(respond)


def woocommerce_api(consumer_key: str, consumer_secret: str, known_orders: set[int],
                    listed_orders: list[dict[str, Any]] | None = None) -> StandIn:
    """A stand-in for the WooCommerce REST v3 calls printfleet makes, checking basic auth and bodies.

    The two write-back calls, and ``GET /wp-json/wc/v3/orders`` over ``listed_orders`` (a list the test
    may change while the stand-in runs), filtered and paged as WooCommerce does.
    """
    notes = iter(range(100, 1_000_000))
    orders = listed_orders if listed_orders is not None else []

    def respond(request: Seen) -> Reply:
        if request.basic_auth() != (consumer_key, consumer_secret):
            return 401, {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                         "data": {"status": 401}}
        if request.method == "GET" and request.path == "/wp-json/wc/v3/orders":
            return list_orders(orders, request)
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return 400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed.", "data": {"status": 400}}
        match = re.fullmatch(r"/wp-json/wc/v3/orders/(\d+)(/notes)?", request.path)
        if match is None:
            return 404, {"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}}
        order_id = int(match.group(1))
        body = request.json()
        if order_id not in known_orders:
            return 400, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}
        if match.group(2) and request.method == "POST":
            if not isinstance(body.get("note"), str) or not body["note"]:
                return 400, {"code": "rest_missing_callback_param", "message": "Missing parameter(s): note"}
            return 201, {"id": next(notes), "note": body["note"], "customer_note": bool(body.get("customer_note"))}
        if not match.group(2) and request.method == "PUT":
            return 200, {"id": order_id, "status": body.get("status")}
        return 404, {"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}}

    return StandIn(respond)


def list_orders(orders: list[dict[str, Any]], request: Seen) -> Reply:
    """Return one page of orders for a list request, filtered by ``status`` and ``modified_after`` (GMT only)."""
    query = {key: values[-1] for key, values in request.query.items()}
    if query.get("dates_are_gmt") != "true":
        return 400, {"code": "stand_in_needs_gmt", "message": "this stand-in compares GMT dates only"}
    after = query.get("modified_after", "")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", after):
        return 400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): modified_after"}
    matching = sorted((order for order in list(orders) if order["status"] == query.get("status")
                       and order["date_modified_gmt"] > after), key=lambda order: order["date_modified_gmt"])
    per_page, page = int(query.get("per_page", "10")), int(query.get("page", "1"))
    pages = max(1, -(-len(matching) // per_page))
    headers = {"X-WP-Total": str(len(matching)), "X-WP-TotalPages": str(pages)}
    return 200, matching[(page - 1) * per_page:page * per_page], headers


def notify_receiver() -> StandIn:
    """A stand-in for a shop's PrinterCo ``notify_url``: takes the form and returns ``OK``."""
    return StandIn(lambda request: (200, "OK"))
