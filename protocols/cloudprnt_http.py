"""Star CloudPRNT over HTTP: poll POST, job GET, confirmation DELETE (or GET with ``delete``).

The printer's URL is ``/cloudprnt/<device key>/poll``; the device key identifies the account and
the ``printerMAC`` the printer. A MAC no printer of the account has is quarantined and gets
``{"jobReady": false}`` until an operator registers it. Every response carries no-cache headers,
because a caching proxy that replays a job response makes a printer print it again and again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from apiflask import APIBlueprint
from flask import Response, g, request
from sqlalchemy import select

from fleet import dispatch, health, printers
from fleet.models import Account, Job, Printer, utcnow
from fleet.poll_cache import PrinterSnapshot
from fleet.rendering import PRODUCIBLE, UnsupportedMediaType, job_document, offered_media_types, receipt_profile, render
from fleet.states import JobState
from fleet.web import base_url, services
from protocols import cloudprnt_actions
from protocols.cloudprnt_status import (StatusCode, asb_conditions, code_conditions, parse_asb, parse_status_code,
                                        to_bool)

log = logging.getLogger(__name__)

# An APIBlueprint with the API document off: APIFlask's spec builder fails on a plain Blueprint that has
# before_request hooks, and printer endpoints are not part of the REST API document.
bp = APIBlueprint("cloudprnt", __name__, url_prefix="/cloudprnt", enable_openapi=False)


@bp.before_request
def _start_timer() -> None:
    g.cloudprnt_started = time.perf_counter()


@bp.after_request
def _server_timing(response: Response) -> Response:
    """Report the time spent in the server (``Server-Timing: app;dur=<ms>``), for operators and benchmarks."""
    started = g.get("cloudprnt_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response

#: Client actions asked on first contact and then every ``client_info_interval_seconds``.
CLIENT_ACTIONS = ("ClientType", "ClientVersion", "Encodings", "GetPollInterval", "PageInfo")
#: Wait before asking again when a printer ignored the last request.
ASK_AGAIN_AFTER = timedelta(seconds=60)
#: Download timeout: the printer never got the data, so the job may be offered again.
RETRY_CODES = frozenset({"520"})

NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "Pragma": "no-cache", "Expires": "0"}


class ClientActionLedger:
    """When each printer was last asked for its client information, so it is asked once, not every poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: dict[int, datetime] = {}

    def should_ask(self, printer: PrinterSnapshot, interval: timedelta, now: datetime) -> bool:
        if printer.client_info_at is not None and now - printer.client_info_at < interval:
            return False
        with self._lock:
            asked = self._asked.get(printer.id)
            if asked is not None and now - asked < ASK_AGAIN_AFTER:
                return False
            self._asked[printer.id] = now
        return True


def _ledger() -> ClientActionLedger:
    return services().extras.setdefault("cloudprnt_ledger", ClientActionLedger())  # type: ignore[no-any-return]


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json", headers=NO_CACHE)


def _error(status: int, message: str) -> Response:
    return _json({"error": {"status": status, "message": message}}, status)


def _account(session: Any, device_key: str) -> Account | None:
    return session.scalars(select(Account).where(Account.device_key == device_key)).first()


def _request_mac() -> str | None:
    raw = request.args.get("mac") or request.headers.get("X-Star-Mac")
    if not raw:
        return None
    try:
        return printers.normalize_mac(raw)
    except ValueError:
        return None


@bp.post("/<device_key>/poll")
def poll(device_key: str) -> Response:
    try:
        body = json.loads(request.get_data(cache=False) or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "poll body is not JSON; send the CloudPRNT poll object")
    if not isinstance(body, dict):
        return _error(400, "poll body must be a JSON object")
    if body.get("statusCode") is None:
        return _error(400, "statusCode is missing; it is the one mandatory poll field")
    raw_mac = body.get("printerMAC") or request.headers.get("X-Star-Mac")
    if not raw_mac:
        # Only statusCode is mandatory; without a MAC the printer cannot be identified, so it gets no job.
        log.warning("poll without printerMAC addr=%s status=%s", request.remote_addr, str(body.get("statusCode"))[:40])
        return _json({"jobReady": False})
    try:
        mac = printers.normalize_mac(str(raw_mac))
    except ValueError:
        return _error(400, f"printerMAC {raw_mac!r} is invalid; send the Ethernet MAC such as 00:11:62:0e:15:58")

    container = services()
    now = utcnow()
    snapshot, account_id = container.printer_cache.load(
        container.read_db, device_key, mac, lambda session, owner: printers.find_by_mac(session, owner, mac))
    if account_id is None:
        log.warning("poll with unknown device key mac=%s addr=%s", mac, request.remote_addr)
        return _error(403, "unknown CloudPRNT URL; copy the URL from printfleet again")
    if snapshot is None:
        with container.db.session() as session:
            printers.quarantine(session, account_id, "cloudprnt", mac, request.remote_addr,
                                {"statusCode": str(body.get("statusCode"))[:60]})
        return _json({"jobReady": False})

    container.presence.touch(snapshot.id, now)
    if cloudprnt_actions.pending_actions(container).has(snapshot.id):
        cloudprnt_actions.confirm_from_poll(container, snapshot.id, body)
    snapshot = _record_status(snapshot, body, now)
    return _json(_poll_answer(snapshot, body, now))


def read_status(body: dict[str, Any]) -> tuple[StatusCode, set[str], dict[str, Any]]:
    """Return the poll's status code, the health conditions it states, and its client-action answers."""
    status = parse_status_code(body.get("statusCode"))
    conditions = code_conditions(status) | asb_conditions(parse_asb(body.get("status")))
    return status, conditions, _client_action_answers(body.get("clientAction"))


def is_unchanged(snapshot: PrinterSnapshot, status: StatusCode, conditions: set[str], answers: dict[str, Any]) -> bool:
    """True when a poll repeats what is stored: online, same conditions and code, nothing to record."""
    return (snapshot.online and snapshot.conditions == conditions and snapshot.status_code == str(status)
            and not answers)


def _record_status(snapshot: PrinterSnapshot, body: dict[str, Any], now: datetime) -> PrinterSnapshot:
    """Store what changed since the last poll; an idle poll of a healthy printer writes nothing."""
    status, conditions, answers = read_status(body)
    if is_unchanged(snapshot, status, conditions, answers):
        log.debug("poll printer=%s status=%s", snapshot.id, status)
        return snapshot
    container = services()
    with container.db.session() as session:
        row = session.get(Printer, snapshot.id, with_for_update=True)
        assert row is not None
        interval = _poll_interval(answers.get("GetPollInterval")) or row.poll_interval_seconds
        reading = health.HealthReading(online=True, conditions=frozenset(conditions), status_code=str(status),
                                       detail={"asb": body.get("status")} if body.get("status") else {},
                                       poll_interval_seconds=interval)
        health.apply_reading(session, row, reading, now)
        if answers:
            row.client_info = {**(row.client_info or {}), **answers}
            row.client_info_at = now
            log.info("client info stored printer=%s keys=%s", row.id, ",".join(sorted(answers)))
        fresh = PrinterSnapshot.of(row)
    container.printer_cache.update(fresh)
    return fresh


def _poll_interval(raw: object) -> int | None:
    try:
        seconds = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return seconds if 1 <= seconds <= 86_400 else None


def _client_action_answers(raw: object) -> dict[str, Any]:
    """Collect ``{request: result}`` from a poll's clientAction list (some firmware sends ``response``)."""
    answers: dict[str, Any] = {}
    if not isinstance(raw, list):
        return answers
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), str):
            continue
        result = entry.get("result", entry.get("response"))
        if entry["request"] in CLIENT_ACTIONS and result is not None:
            answers[entry["request"]] = result if isinstance(result, dict) else str(result)[:500]
    return answers


def _poll_answer(printer: PrinterSnapshot, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    container = services()
    settings_actions = cloudprnt_actions.poll_actions(container, printer.id)
    if settings_actions:
        log.info("sending settings as client actions printer=%s requests=%s", printer.id,
                 ",".join(action["request"] for action in settings_actions))
        return {"jobReady": False, "clientAction": settings_actions}
    interval = timedelta(seconds=container.settings.client_info_interval_seconds)
    if _ledger().should_ask(printer, interval, now):
        # A response with client actions makes the printer run them and poll again at once,
        # so jobs are offered on the next poll rather than in this one.
        log.info("asking client info printer=%s", printer.id)
        return {"jobReady": False, "clientAction": [{"request": name, "options": ""} for name in CLIENT_ACTIONS]}
    if to_bool(body.get("printingInProgress")):
        return {"jobReady": False}
    if "paper_out" in printer.conditions or "cover_open" in printer.conditions:
        return {"jobReady": False}
    if not container.work_index.has_work(printer.id):
        return {"jobReady": False}

    with container.db.session() as session:
        offered = dispatch.offer_next(session, printer.id, now)
    if offered is None:
        container.work_index.clear(printer.id)
        return {"jobReady": False}
    _, token = offered
    return {"jobReady": True, "mediaTypes": offered_media_types(printer), "jobToken": token, "deleteMethod": "DELETE"}


def _printer_from_query(session: Any, device_key: str) -> Printer | None:
    account = _account(session, device_key)
    mac = _request_mac()
    if account is None or mac is None:
        return None
    return printers.find_by_mac(session, account.id, mac)


@bp.get("/<device_key>/poll")
def fetch_or_confirm(device_key: str) -> Response:
    if "delete" in request.args:
        return _confirm(device_key)
    return _fetch(device_key)


@bp.delete("/<device_key>/poll")
def confirm(device_key: str) -> Response:
    return _confirm(device_key)


def _newest_token(session: Any, printer: Printer, state: str) -> str | None:
    query = (select(Job).where(Job.printer_id == printer.id, Job.state == state)
             .order_by(Job.fetched_at.desc(), Job.id.desc()))
    job = session.scalars(query).first()
    return job.token if job else None


def _tokenless_fetch_token(session: Any, printer: Printer) -> str | None:
    """Pick the job a printer that sends no ``token`` is downloading.

    That is the job the last poll announced (the next waiting one) or, with none waiting, the newest
    fetched job, which the printer is downloading again. An unconfirmed job is never picked, because
    a job whose confirmation is late must not print again without a person deciding so.
    """
    waiting = dispatch.next_job(session, printer.id)
    if waiting is not None:
        return waiting.token
    return _newest_token(session, printer, JobState.FETCHED)


def _tokenless_confirm_token(session: Any, printer: Printer) -> str | None:
    """Pick the job a confirmation without ``token`` is about: the newest fetched, else the newest unconfirmed."""
    return _newest_token(session, printer, JobState.FETCHED) or _newest_token(session, printer, JobState.UNCONFIRMED)


def _fetch(device_key: str) -> Response:
    media_type = (request.args.get("type") or "").split(";")[0].strip() or None
    container = services()
    with container.db.session() as session:
        printer = _printer_from_query(session, device_key)
        if printer is None:
            return _error(404, "no job: unknown printer or URL")
        if media_type is not None and media_type not in PRODUCIBLE:
            log.info("job type not producible printer=%s type=%s", printer.id, media_type)
            return _error(415, f"media type {media_type} is not produced here; use one of {', '.join(PRODUCIBLE)}")
        media_type = media_type or offered_media_types(printer)[0]
        token = request.args.get("token") or _tokenless_fetch_token(session, printer)
        claim = dispatch.claim_job(session, printer, token, media_type) if token else None
        if claim is None:
            return _error(404, "no job for this printer and token")
        document = job_document(claim.job, base_url())
        profile = receipt_profile(printer)
        job_id = claim.job.id
    try:
        rendered = render(document, media_type, profile)
    except UnsupportedMediaType:
        return _error(415, f"media type {media_type} is not produced here")
    log.info("job served job=%s printer=%s type=%s bytes=%s", job_id, printer.id, media_type, len(rendered.body))
    return Response(rendered.body, status=200, content_type=rendered.content_type, headers={**NO_CACHE, **rendered.headers})


def _confirm(device_key: str) -> Response:
    status = parse_status_code(request.args.get("code"))
    container = services()
    with container.db.session() as session:
        printer = _printer_from_query(session, device_key)
        if printer is None:
            return _error(404, "unknown printer or URL")
        token = request.args.get("token") or _tokenless_confirm_token(session, printer)
        if token is None:
            log.warning("confirmation without a job printer=%s code=%s", printer.id, status)
            return _json({})
        retry = status.code in RETRY_CODES
        job = dispatch.confirm_job(session, printer, token, status.is_success, str(status), retry=retry)
        if job is None:
            return _error(404, "no job with this token")
    return _json({})


@bp.get("/<device_key>/cloudprnt-setting.json")
def server_setting(device_key: str) -> Response:
    """Server-setting GET of MQTT-capable printers: the broker and its login when the printer's
    ``cloudprnt_mqtt`` is ``trigger`` or ``full``; 404 (this server speaks HTTP only) otherwise."""
    from fleet.mqtt_devices import mac_shared_over_mqtt
    from protocols.mqtt.cloudprnt_mqtt import mqtt_mode, server_setting_document

    container = services()
    mqtt = container.extras.get("mqtt")
    mac = _request_mac()
    if mqtt is None or mac is None:
        return _error(404, "CloudPRNT over MQTT is off for this server; the printer keeps polling over HTTP")
    with container.db.session() as session:
        account = _account(session, device_key)
        printer = printers.find_by_mac(session, account.id, mac) if account is not None else None
        if printer is None or mqtt_mode(printer) == "off" or mac_shared_over_mqtt(session, printer):
            return _error(404, "CloudPRNT over MQTT is off for this printer; it keeps polling over HTTP")
        host = mqtt.public.host or urlsplit(base_url()).hostname or "localhost"
        body = server_setting_document(session, printer, host, mqtt.public.port)
        log.info("cloudprnt server setting served printer=%s mode=%s", printer.id, mqtt_mode(printer))
    return _json(body)
