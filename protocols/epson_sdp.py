"""Epson Server Direct Print (TM-i, TM-m30II/III, TM-T88VI/VII): print requests, results and status.

The printer posts an HTML form to ``/epson/<device key>`` every Interval seconds. The device key
names the account and the form's ``ID`` the printer. ``ConnectionType=GetRequest`` requests work and
gets an empty body or a ``PrintRequestInfo`` document with one ``<ePOSPrint>`` block per job.
Sending a job is its fetch, so it is claimed as it is sent and never sent again on its own.
``SetResponse`` carries the print results in ``ResponseFile`` and ``SetStatus`` (Status
Notification) the ASB status. Every answer is 200 ``text/xml``, even to bad input, because some
firmware re-posts a request without end after any other status; the one exception is the 401
challenge of HTTP Digest authentication (RFC 7616) for printers with ``sdp_digest_auth``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from fleet import dispatch, health, printers
from fleet.accounts import DIGEST_REALM
from fleet.models import Account, Job, Printer, utcnow
from fleet.receipts.encode_epos import encode_epos_xml, wrap_print_request
from fleet.rendering import job_document, receipt_profile
from fleet.states import HELD_JOB_STATES
from fleet.web import base_url, services
from protocols.epson_sdp_xml import (DEFAULT_DEVID, PrintResult, ResponseFile, asb_conditions, asb_detail, explain_result,
                                     parse_response_file, parse_status_notification)

log = logging.getLogger(__name__)

bp = Blueprint("epson_sdp", __name__, url_prefix="/epson")

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0", "Pragma": "no-cache", "Expires": "0"}

#: Flask config key: the maximum number of jobs sent in one print request.
JOBS_PER_RESPONSE_KEY = "EPSON_SDP_JOBS_PER_RESPONSE"
DEFAULT_JOBS_PER_RESPONSE = 3
#: Flask config key: the ePOS-Print ``timeout`` of each job, in milliseconds.
JOB_TIMEOUT_KEY = "EPSON_SDP_JOB_TIMEOUT_MS"
#: Epson's examples use 10 000 ms; 60 000 is a choice that leaves room for long receipts with images.
DEFAULT_JOB_TIMEOUT_MS = 60_000

#: WebConfig accepts IDs of at most 30 characters of this set; an empty ID is allowed there too.
_SDP_ID = re.compile(r"[A-Za-z0-9_.-]{0,30}")
_CONNECTION_TYPES = ("GetRequest", "SetResponse", "SetStatus")
#: Seconds a Digest nonce stays valid; an older one gets a new challenge with ``stale=true``.
NONCE_LIFETIME_SECONDS = 300
#: Seconds between two WARNING lines about the same source (printer or address).
_WARN_EVERY_SECONDS = 600.0
#: Keys the warning throttle remembers before it starts over, so random traffic cannot grow it without bound.
_THROTTLE_KEYS = 10_000


class _WarningThrottle:
    """Lets one WARNING per key through every ``_WARN_EVERY_SECONDS``, so a misconfigured printer
    that polls every few seconds does not flood the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def should_warn(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._last) > _THROTTLE_KEYS:
                self._last.clear()
            last = self._last.get(key)
            if last is not None and now - last < _WARN_EVERY_SECONDS:
                return False
            self._last[key] = now
            return True


def _throttle() -> _WarningThrottle:
    return services().extras.setdefault("epson_sdp_warnings", _WarningThrottle())  # type: ignore[no-any-return]


def _empty() -> Response:
    return Response(b"", status=200, content_type=XML_CONTENT_TYPE, headers=NO_CACHE)


def _ignore(reason: str, *args: object) -> Response:
    """Log why a request changed nothing (WARNING) and return the empty 200 response."""
    log.warning("epson request ignored addr=%s: " + reason, request.remote_addr, *args)
    return _empty()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    # Parsing the form raises 413 for a body over MAX_CONTENT_LENGTH and 400 for an unreadable form.
    # The printer must still get 200, because otherwise it re-posts the same request.
    return _ignore("HTTP %s %s path=%s", error.code, error.name, request.path)


@bp.errorhandler(Exception)
def _unexpected_error(error: Exception) -> Response:
    log.exception("epson request failed addr=%s path=%s", request.remote_addr, request.path)
    return _empty()


@dataclass(frozen=True)
class _Form:
    connection_type: str
    sdp_id: str
    name: str | None
    #: Print results (SetResponse) or Status Notification (SetStatus); None for GetRequest.
    payload: str | None = None


@bp.post("/<device_key>")
def server_direct_print(device_key: str) -> Response:
    """Handle one Server Direct Print form post: GetRequest, SetResponse or SetStatus."""
    form = _read_form()
    if isinstance(form, Response):
        return form

    # The payload is read before anything is looked up, so a bad one changes nothing at all.
    results = parse_response_file(form.payload or "") if form.connection_type == "SetResponse" else None
    if results is not None and results.problem is not None:
        return _ignore("ResponseFile from ID=%s is unusable: %s", form.sdp_id, results.problem)
    status = parse_status_notification(form.payload or "") if form.connection_type == "SetStatus" else None
    if status is not None and status.asb is None:
        return _ignore("Status from ID=%s is unusable: %s", form.sdp_id, status.problem)

    printer = _identify(device_key, form)
    if printer is None:
        return _empty()
    challenge = _check_digest(printer)
    if challenge is not None:
        return challenge

    services().presence.touch(printer.id, utcnow())
    if form.connection_type == "GetRequest":
        return _send_jobs(printer, form)
    if results is not None:
        _record_results(printer, form, results)
    elif status is not None and status.asb is not None:
        _record_status(printer, status.asb)
    return _empty()


def _read_form() -> _Form | Response:
    connection_type = request.form.get("ConnectionType", "").strip()
    if connection_type not in _CONNECTION_TYPES:
        return _ignore("ConnectionType %r is not one of %s", connection_type[:40], ", ".join(_CONNECTION_TYPES))
    sdp_id = request.form.get("ID", "").strip()
    if not _SDP_ID.fullmatch(sdp_id):
        return _ignore("ID %r is invalid; WebConfig allows at most 30 of A-Z a-z 0-9 _ . -", sdp_id[:40])
    name = "".join(char for char in request.form.get("Name", "") if char.isprintable()).strip()[:64] or None

    payload = None
    if connection_type != "GetRequest":
        field_name = "ResponseFile" if connection_type == "SetResponse" else "Status"
        payload = request.form.get(field_name)
        if not payload or not payload.strip():
            return _ignore("%s from ID=%s has no %s field", connection_type, sdp_id, field_name)
    return _Form(connection_type, sdp_id, name, payload)


def _identify(device_key: str, form: _Form) -> Printer | None:
    """Return the registered printer for the device key and ID, detached; quarantine unknown IDs."""
    container = services()
    with container.read_db.session() as session:
        account = session.scalars(select(Account).where(Account.device_key == device_key)).first()
        if account is None:
            if _throttle().should_warn(f"key:{request.remote_addr}"):
                log.warning("epson request with unknown device key addr=%s id=%s; copy the Server Direct Print "
                            "URL from printfleet again", request.remote_addr, form.sdp_id)
            return None
        account_id = account.id
        printer = printers.find_by_device_user(session, "epson_sdp", form.sdp_id) if form.sdp_id else None
        if printer is not None and printer.account_id == account_id:
            session.expunge(printer)
            return printer

    with container.db.session() as session:
        printers.quarantine(session, account_id, "epson_sdp", form.sdp_id or "(empty)", request.remote_addr,
                            {"name": form.name} if form.name else None)
    log.debug("epson request from unregistered printer account=%s id=%s", account_id, form.sdp_id)
    return None


# -- HTTP Digest authentication (RFC 7616, MD5, qop=auth) -------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _nonce_signature(stamp: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{stamp}:{DIGEST_REALM}".encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce(now: float | None = None) -> str:
    """Return a nonce ``<unix time>.<HMAC>``; it is checked by signature and age, so no server state."""
    stamp = str(int(time.time() if now is None else now))
    return f"{stamp}.{_nonce_signature(stamp)}"


def _same(left: str, right: str) -> bool:
    # compare_digest accepts str only when it is ASCII; header values may be anything.
    return hmac.compare_digest(left.encode(), right.encode())


def _nonce_status(nonce: str, now: float) -> str:
    """Return ``valid``, ``stale`` (signed here but older than the lifetime) or ``invalid``."""
    stamp, _, signature = nonce.partition(".")
    if not (stamp.isascii() and stamp.isdigit()) or not _same(signature, _nonce_signature(stamp)):
        return "invalid"
    age = now - int(stamp)
    return "valid" if -5 <= age <= NONCE_LIFETIME_SECONDS else "stale"


def _challenge(printer: Printer, reason: str, stale: bool = False) -> Response:
    log.debug("epson digest challenge printer=%s addr=%s reason=%s", printer.id, request.remote_addr, reason)
    header = f'Digest realm="{DIGEST_REALM}", qop="auth", nonce="{make_nonce()}", algorithm=MD5'
    if stale:
        header += ", stale=true"
    return Response(b"", status=401, content_type=XML_CONTENT_TYPE, headers={**NO_CACHE, "WWW-Authenticate": header})


_DIGEST_FIELDS = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")


def _check_digest(printer: Printer) -> Response | None:
    """Return a 401 challenge unless Digest is off for ``printer`` or the request carries valid credentials."""
    if not (printer.settings or {}).get("sdp_digest_auth", False):
        return None
    authorization = request.authorization
    if authorization is None or authorization.type != "digest":
        return _challenge(printer, "no digest credentials")
    credentials = {name: authorization.parameters.get(name) or "" for name in (*_DIGEST_FIELDS, "algorithm")}
    if not all(credentials[name] for name in _DIGEST_FIELDS):
        return _challenge(printer, "incomplete digest credentials")
    if credentials["qop"] != "auth" or credentials["algorithm"].upper() not in ("", "MD5"):
        return _challenge(printer, "unsupported qop or algorithm")
    if credentials["realm"] != DIGEST_REALM or urlsplit(credentials["uri"]).path != request.path:
        return _challenge(printer, "realm or uri does not match")

    nonce_state = _nonce_status(credentials["nonce"], time.time())
    if nonce_state == "invalid":
        return _challenge(printer, "nonce not issued here")
    ha2 = _md5(f"{request.method}:{credentials['uri']}")
    expected = _md5(f"{printer.device_password_hash}:{credentials['nonce']}:{credentials['nc']}:{credentials['cnonce']}:auth:{ha2}")
    user_ok = _same(credentials["username"], printer.device_user or "") and printer.device_password_hash is not None
    if not (user_ok and _same(expected, credentials["response"].lower())):
        if _throttle().should_warn(f"digest:{printer.id}"):
            log.warning("epson digest authentication failed printer=%s addr=%s; check the printer's Digest user "
                        "and password", printer.id, request.remote_addr)
        return _challenge(printer, "wrong digest user or password")
    if nonce_state == "stale":
        # RFC 7616 section 3.3: a correct response to an expired nonce gets stale=true, so the client
        # retries with the new nonce without prompting for the password again.
        return _challenge(printer, "nonce expired", stale=True)
    # NOTE: nonce counts (nc) are not tracked, so a captured request can be replayed while its nonce
    # is valid, which is at most NONCE_LIFETIME_SECONDS. Use HTTPS against eavesdroppers.
    return None


# -- GetRequest: send waiting jobs ------------------------------------------------------------------------


def _jobs_per_response(printer: Printer) -> int:
    # A printer that never returned a printjobid may respond to a request of several jobs with one
    # Version 1.00 result, which does not name the job. Such printers get one job at a time.
    if (printer.client_info or {}).get("sdp_result_version") not in ("2.00", "3.00"):
        return 1
    return max(1, int(current_app.config.get(JOBS_PER_RESPONSE_KEY, DEFAULT_JOBS_PER_RESPONSE)))


def _send_jobs(printer: Printer, form: _Form) -> Response:
    container = services()
    now = utcnow()
    _note_contact(printer, form, now)
    if not container.work_index.has_work(printer.id):
        log.debug("epson poll printer=%s nothing waiting", printer.id)
        return _empty()

    devid = str((printer.settings or {}).get("sdp_devid") or DEFAULT_DEVID)
    timeout_ms = int(current_app.config.get(JOB_TIMEOUT_KEY, DEFAULT_JOB_TIMEOUT_MS))
    blocks: list[tuple[str, str, int, str]] = []
    job_ids: list[int] = []
    with container.db.session() as session:
        row = session.get(Printer, printer.id)
        assert row is not None
        profile = receipt_profile(row)
        base = base_url()
        for _slot in range(_jobs_per_response(row)):
            claim = dispatch.claim_next(session, row, now)
            if claim is None:
                break
            try:
                epos = encode_epos_xml(job_document(claim.job, base), profile.columns, profile.print_width_dots)
            except (ValueError, OSError) as err:
                # A job that cannot be rendered fails on its own instead of holding up the jobs behind it.
                log.error("epson job not rendered printer=%s job=%s: %s", printer.id, claim.job.id, err)
                dispatch.confirm_job(session, row, claim.job.token, False, "render failed", now=now)
                continue
            blocks.append((claim.job.token, devid, timeout_ms, epos))
            job_ids.append(claim.job.id)
        if not blocks:
            container.work_index.clear(printer.id)
            return _empty()
        body = wrap_print_request(blocks)
    log.info("epson print request sent printer=%s jobs=%s bytes=%s", printer.id, job_ids, len(body.encode()))
    return Response(body.encode(), status=200, content_type=XML_CONTENT_TYPE, headers=NO_CACHE)


def _note_contact(printer: Printer, form: _Form, now: datetime) -> None:
    """Mark ``printer`` online and store a changed ``Name``; writes only when something changed."""
    # NOTE: the form does not carry the printer's Interval; unless support staff set the printer's
    # poll_interval_seconds setting to it, the offline sweep assumes default_poll_interval_seconds.
    name_changed = form.name is not None and (printer.client_info or {}).get("sdp_name") != form.name
    if printer.online and not name_changed:
        return
    with services().db.session() as session:
        row = session.get(Printer, printer.id, with_for_update=True)
        assert row is not None
        if not row.online:
            reading = health.HealthReading(online=True, conditions=frozenset(row.conditions or []),
                                           status_code=row.status_code)
            health.apply_reading(session, row, reading, now)
        if name_changed:
            row.client_info = {**(row.client_info or {}), "sdp_name": form.name}
        printer.online, printer.client_info = row.online, row.client_info


# -- SetResponse and SetStatus: results and health --------------------------------------------------------


def _oldest_held_token(session: Session, printer_id: int) -> str | None:
    query = select(Job.token).where(Job.printer_id == printer_id, Job.state.in_(HELD_JOB_STATES)).order_by(Job.id)
    return session.scalars(query.limit(1)).first()


def _record_results(printer: Printer, form: _Form, parsed: ResponseFile) -> None:
    now = utcnow()
    for reason in parsed.skipped:
        log.warning("epson result entry skipped printer=%s: %s", printer.id, reason)
    if parsed.request_error is not None:
        log.warning("epson printer rejected a print request printer=%s: %s", printer.id, parsed.request_error)

    with services().db.session() as session:
        row = session.get(Printer, printer.id, with_for_update=True)
        assert row is not None
        for result in parsed.results:
            _confirm(session, row, result, now)
        last = parsed.results[-1] if parsed.results else None
        asb = next((result.asb for result in reversed(parsed.results) if result.asb is not None), None)
        _apply_health(session, row, asb, last, now, parsed.request_error)
        reported = {"sdp_result_version": parsed.version, **({"sdp_name": form.name} if form.name else {})}
        if any((row.client_info or {}).get(key) != value for key, value in reported.items()):
            row.client_info = {**(row.client_info or {}), **reported}


def _confirm(session: Session, printer: Printer, result: PrintResult, now: datetime) -> None:
    token = result.printjobid
    if token is None:
        # Version 1.00 results carry no printjobid, so the oldest job the printer has fetched is the best match.
        token = _oldest_held_token(session, printer.id)
        if token is None:
            log.warning("epson result without printjobid and no job held printer=%s code=%s", printer.id, result.code)
            return
    code = None if result.success else result.code
    job = dispatch.confirm_job(session, printer, token, result.success, code, now=now)
    if job is not None and not result.success:
        log.info("epson job failed job=%s printer=%s code=%s: %s", job.id, printer.id, result.code,
                 explain_result(False, result.code))


def _apply_health(session: Session, printer: Printer, asb: int | None, last: PrintResult | None, now: datetime,
                  request_error: str | None = None) -> None:
    detail: dict[str, Any] = dict(printer.health_detail or {})
    conditions = frozenset(printer.conditions or [])
    status_code = printer.status_code
    if asb is not None:
        conditions = frozenset(asb_conditions(asb))
        detail.update(asb_detail(asb))
        status_code = detail["asb"]
    if last is not None:
        detail["last_result_code"] = last.code if not last.success else None
        detail["last_result_text"] = explain_result(last.success, last.code)
    if request_error is not None:
        detail["print_request_error"] = request_error
    reading = health.HealthReading(online=True, conditions=conditions, status_code=status_code, detail=detail)
    health.apply_reading(session, printer, reading, now)


def _record_status(printer: Printer, asb: int) -> None:
    with services().db.session() as session:
        row = session.get(Printer, printer.id, with_for_update=True)
        assert row is not None
        _apply_health(session, row, asb, None, utcnow())
    log.debug("epson status notification printer=%s asb=0x%08X", printer.id, asb)
