"""HTTP fallback of the printfleet device protocol, for agents that cannot reach the MQTT broker.

Devices log in with HTTP Basic auth using their MQTT credentials. The bodies are the device
protocol's JSON payloads (``v: 1``):

* ``GET  /device/v1/jobs/next``: the oldest fetched job without a result (a repeatable
  fetch), else the next waiting job, claimed; 204 when there is none.
* ``POST /device/v1/jobs/<job_id>/result``: a ``jobs/result`` payload; returns the job state.
* ``POST /device/v1/health``: a ``health`` payload.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, request

from fleet import health
from fleet.models import Printer
from fleet.mqtt_devices import find_device, verify_login
from fleet.web import services
from protocols.mqtt.device import held_or_next_job, job_message, record_result
from protocols.mqtt.payloads import HealthMessage, JobResult, parse_device_message

log = logging.getLogger(__name__)

bp = Blueprint("device_http", __name__, url_prefix="/device/v1")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _unauthorized() -> Response:
    response = _json({"error": {"status": 401, "message": "missing or invalid device credentials; "
                                "send HTTP Basic auth with the device id and its MQTT password"}}, 401)
    response.headers["WWW-Authenticate"] = 'Basic realm="printfleet-device"'
    return response


def _device(session: Any) -> Printer | None:
    auth = request.authorization
    if auth is None or not auth.username or auth.password is None:
        return None
    identity = verify_login(session, auth.username, auth.password)
    if identity is None or identity.protocol != "device_mqtt":
        log.warning("device http login rejected device=%s addr=%s", auth.username, request.remote_addr)
        return None
    return find_device(session, auth.username)


@bp.get("/jobs/next")
def next_job() -> Response:
    container = services()
    with container.db.session() as session:
        printer = _device(session)
        if printer is None:
            return _unauthorized()
        container.presence.touch(printer.id)
        job = held_or_next_job(session, printer)
        if job is None:
            return Response(status=204, headers={"Cache-Control": "no-store"})
        body = job_message(job, container.settings.base_url)
        log.info("job served over http job=%s printer=%s", job.id, printer.id)
    return _json(body)


@bp.post("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    container = services()
    topic = f"http:/device/v1/jobs/{job_id[:40]}/result"
    with container.db.session() as session:
        printer = _device(session)
        if printer is None:
            return _unauthorized()
        message = parse_device_message(JobResult, request.get_data(cache=False), request.authorization.username, topic)  # type: ignore[union-attr]
        if message is None or message.job_id != job_id:
            return _json({"error": {"status": 400, "message": "invalid jobs/result payload; see docs/mqtt.md"}}, 400)
        state = record_result(session, printer, message)
    return _json({"v": 1, "job_id": job_id, "state": state})


@bp.post("/health")
def device_health() -> Response:
    container = services()
    with container.db.session() as session:
        printer = _device(session)
        if printer is None:
            return _unauthorized()
        message = parse_device_message(HealthMessage, request.get_data(cache=False), request.authorization.username,  # type: ignore[union-attr]
                                       "http:/device/v1/health")
        if message is None:
            return _json({"error": {"status": 400, "message": "invalid health payload; see docs/mqtt.md"}}, 400)
        reading = health.HealthReading(online=message.online, conditions=frozenset(message.conditions),
                                       status_code=message.status_code, detail=message.detail)
        health.apply_reading(session, printer, reading)
        container.presence.touch(printer.id)
    return _json({"v": 1})
