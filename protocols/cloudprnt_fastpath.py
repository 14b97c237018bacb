"""WSGI fast path for idle CloudPRNT polls.

Most polls of a healthy fleet repeat the last status of a known printer that has no waiting job and
owes no client-action answers. This middleware answers exactly those with ``{"jobReady": false}``
from the in-memory printer snapshot and work index, without building a Flask request. Every other
request, including any poll that would change something, goes to the Flask app unchanged, so the
rules stay in :mod:`protocols.cloudprnt_http`.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from fleet import printers
from fleet.models import utcnow
from fleet.poll_cache import PrinterSnapshot
from fleet.services import Services
from protocols.cloudprnt_actions import pending_actions
from protocols.cloudprnt_http import NO_CACHE, is_unchanged, read_status
from protocols.cloudprnt_status import to_bool

log = logging.getLogger(__name__)

_POLL_PATH = re.compile(r"^/cloudprnt/([^/]+)/poll$")
_IDLE_BODY = b'{"jobReady":false}'
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_IDLE_BODY))), *NO_CACHE.items()]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class IdlePollFastPath:
    """Answer idle polls of known printers before Flask; pass everything else through."""

    def __init__(self, app: WsgiApp, services: Services) -> None:
        self.app = app
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            match = _POLL_PATH.match(environ.get("PATH_INFO", ""))
            if match is not None and self._answer_idle(environ, match.group(1)):
                start_response("200 OK", list(_HEADERS))
                return [_IDLE_BODY]
        return self.app(environ, start_response)

    def _answer_idle(self, environ: dict[str, Any], device_key: str) -> bool:
        """Return True when the poll in ``environ`` is idle and was recorded; restore the body otherwise."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        if not 0 < length <= self.services.settings.max_body_bytes:
            return False
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        snapshot, body = self._idle_snapshot(raw, device_key)
        if snapshot is None or body is None or pending_actions(self.services).has(snapshot.id):
            return False
        now = utcnow()
        interval = timedelta(seconds=self.services.settings.client_info_interval_seconds)
        if snapshot.client_info_at is None or now - snapshot.client_info_at >= interval:
            return False
        if not to_bool(body.get("printingInProgress")) and self.services.work_index.has_work(snapshot.id):
            return False
        self.services.presence.touch(snapshot.id, now)
        log.debug("idle poll printer=%s", snapshot.id)
        return True

    def _idle_snapshot(self, raw: bytes, device_key: str) -> tuple[PrinterSnapshot | None, dict[str, Any] | None]:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None, None
        if not isinstance(body, dict) or body.get("statusCode") is None or not body.get("printerMAC"):
            return None, None
        try:
            mac = printers.normalize_mac(str(body["printerMAC"]))
        except ValueError:
            return None, None
        cached = self.services.printer_cache.get(device_key, mac)
        if not isinstance(cached, tuple) or cached[0] is None:
            return None, None
        snapshot: PrinterSnapshot = cached[0]
        status, conditions, answers = read_status(body)
        if not is_unchanged(snapshot, status, conditions, answers):
            return None, None
        return snapshot, body
