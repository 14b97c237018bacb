"""Star CloudPRNT over MQTT: trigger-POST mode and full MQTT mode, chosen per printer by ``cloudprnt_mqtt``.

* ``trigger``: the broker is a doorbell. A new job publishes ``request-post`` and the printer polls
  over HTTP at once; the HTTP state machine (offer, GET claims, DELETE confirms) is unchanged.
* ``full``: the server publishes ``print-job``. ``text/plain`` jobs travel inline (``jobType: raw``) and
  are claimed before the publish. Other types travel as a URL (``jobType: url``), and the printer's
  GET of that URL claims them at the HTTP job endpoint. The printer answers with ``print-result``, which
  confirms the job once; a repeated result changes nothing. ``client-status`` updates health,
  ``client-will`` marks the printer offline.

The printer publishes at QoS 1, so duplicates happen; Star printers also refuse a ``jobToken`` among
the last ten they printed.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select

from fleet import dispatch, health
from fleet.models import Job, Printer, utcnow
from fleet.mqtt_devices import cloudprnt_credentials, mac_shared_over_mqtt
from fleet.rendering import TEXT, job_document, offered_media_types, receipt_profile, render
from fleet.services import Services
from protocols.cloudprnt_status import asb_conditions, code_conditions, parse_asb, parse_status_code, to_bool
from protocols.mqtt import topics
from protocols.mqtt.bridge import MqttBridge
from protocols.mqtt.payloads import decode_object

log = logging.getLogger(__name__)

MODES = ("trigger", "full")
#: Client actions ordered over MQTT when the printer's stored client information is older than the interval.
CLIENT_ACTIONS = ("ClientType", "ClientVersion", "Encodings", "GetPollInterval", "PageInfo")
#: Seconds before client actions are ordered again from a printer that ignored the last order.
ASK_AGAIN_SECONDS = 60.0


def mqtt_mode(printer: Printer) -> str:
    return str((printer.settings or {}).get("cloudprnt_mqtt", "off"))


class CloudPrntMqtt:
    """Publishes doorbells and print jobs to CloudPRNT printers and handles what they publish back."""

    def __init__(self, services: Services, bridge: MqttBridge, public_base_url: str) -> None:
        self.services = services
        self.bridge = bridge
        self.public_base_url = public_base_url
        #: When each MAC was last sent order-client-action, so a printer that never replies gets it once a minute.
        self._asked: dict[str, float] = {}

    def attach(self) -> None:
        self.bridge.subscribe(f"{topics.CLOUDPRNT_TO_SERVER}/#", self.handle)

    # -- outgoing --------------------------------------------------------------------------------------

    def push(self, printer_id: int) -> None:
        """Publish the printer's next job as its ``cloudprnt_mqtt`` mode requires (doorbell or print-job)."""
        with self.services.db.session() as session:
            printer = session.get(Printer, printer_id)
            if printer is None or printer.protocol != "cloudprnt" or printer.mac is None:
                return
            if mac_shared_over_mqtt(session, printer):
                return
            mode = mqtt_mode(printer)
            if mode == "trigger":
                mac = printer.mac
            elif mode == "full":
                message = self._print_job(session, printer)
                mac = printer.mac
            else:
                return
        if mode == "trigger":
            self.bridge.publish(topics.cloudprnt_to_device(mac, "request-post"), {"title": "request-post"})
            log.info("cloudprnt request-post published printer=%s", printer_id)
        elif message is not None:
            self.bridge.publish(topics.cloudprnt_to_device(mac, "print-job"), message)

    def _print_job(self, session: Any, printer: Printer) -> dict[str, Any] | None:
        job = dispatch.next_job(session, printer.id)
        if job is None:
            return None
        media_type = offered_media_types(printer)[0]
        message: dict[str, Any] = {"title": "print-job", "jobToken": job.token, "mediaTypes": [media_type]}
        cut = str((printer.settings or {}).get("cut", "partial"))
        if cut != "none":
            message["printerControl"] = {"cutter": {"type": cut, "feed": True}}
        if media_type == TEXT:
            claim = dispatch.claim_job(session, printer, job.token, TEXT)
            if claim is None or not claim.first_fetch:
                return None
            rendered = render(job_document(claim.job, self.public_base_url), TEXT, receipt_profile(printer))
            message.update(jobType="raw", printData=rendered.body.decode("utf-8", errors="replace"))
            log.info("cloudprnt print-job published job=%s printer=%s type=raw", job.id, printer.id)
            return message
        dispatch.mark_offered(session, job)
        query = urlencode({"mac": printer.mac, "token": job.token, "type": media_type}, quote_via=quote)
        message.update(jobType="url", printData=f"{self.public_base_url}/cloudprnt/{printer.account.device_key}/poll?{query}")
        log.info("cloudprnt print-job published job=%s printer=%s type=url media=%s", job.id, printer.id, media_type)
        return message

    def request_status(self, printer: Printer) -> str:
        """Ask the printer for its status now: ``request-client-status`` in full mode, a poll in trigger mode.

        Returns the MQTT method published, or raises ValueError when MQTT is off for the printer.
        """
        mode = mqtt_mode(printer)
        if mode == "off" or not printer.mac:
            raise ValueError(f"CloudPRNT over MQTT is off for printer {printer.id}")
        method = "request-client-status" if mode == "full" else "request-post"
        self.bridge.publish(topics.cloudprnt_to_device(printer.mac, method), {"title": method})
        log.info("status requested printer=%s mac=%s method=%s", printer.id, printer.mac, method)
        return method

    def order_client_action(self, mac: str, requests: tuple[str, ...] = CLIENT_ACTIONS) -> None:
        body = {"title": "order-client-action", "clientAction": [{"request": name, "options": ""} for name in requests]}
        self.bridge.publish(topics.cloudprnt_to_device(mac, "order-client-action"), body)

    # -- incoming --------------------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        parts = topics.split_cloudprnt(topic)
        if parts is None:
            return
        mac, method = parts
        body = decode_object(payload, mac, topic)
        if body is None:
            return
        if method == "print-result":
            self._on_print_result(mac, body, topic)
        elif method == "client-status":
            self._on_client_status(mac, body)
        elif method == "client-will":
            self._on_will(mac)
        else:
            log.debug("cloudprnt message ignored mac=%s method=%s", mac, method)

    def _printers(self, session: Any, mac: str) -> list[Printer]:
        rows = session.scalars(select(Printer).where(Printer.mac == mac, Printer.protocol == "cloudprnt",
                                                     Printer.deleted_at.is_(None)))
        found = [row for row in rows if mqtt_mode(row) in MODES]
        if len({row.account_id for row in found}) > 1:
            # Topics name the MAC alone; a message for a MAC two accounts use over MQTT is not trusted.
            log.warning("cloudprnt MQTT message for a MAC of several accounts ignored mac=%s", mac)
            return []
        return found

    def _on_print_result(self, mac: str, body: dict[str, Any], topic: str) -> None:
        token = body.get("jobToken")
        if not isinstance(token, str) or not token or len(token) > 64:
            log.warning("mqtt payload rejected device=%s topic=%s: print-result without a jobToken", mac, topic)
            return
        status = parse_status_code(body.get("statusCode"))
        with self.services.db.session() as session:
            job = session.scalars(select(Job).where(Job.token == token)).first()
            if job is None or job.printer.mac != mac:
                log.warning("cloudprnt print-result for unknown job mac=%s code=%s", mac, status)
                return
            dispatch.confirm_job(session, job.printer, token, status.is_success, str(status))
            printer_id = job.printer_id
        # The printer is free again; offer the next job at once.
        self.push(printer_id)

    def _on_client_status(self, mac: str, body: dict[str, Any]) -> None:
        status = parse_status_code(body.get("statusCode"))
        conditions = code_conditions(status) | asb_conditions(parse_asb(body.get("status")))
        answers = _client_action_answers(body.get("clientAction"))
        ask: list[str] = []
        idle: list[int] = []
        now = utcnow()
        with self.services.db.session() as session:
            for printer in self._printers(session, mac):
                reading = health.HealthReading(online=True, conditions=frozenset(conditions), status_code=str(status),
                                               detail={"asb": body.get("status")} if body.get("status") else {})
                health.apply_reading(session, printer, reading, now)
                self.services.presence.touch(printer.id, now)
                if answers:
                    printer.client_info = {**(printer.client_info or {}), **answers}
                    printer.client_info_at = now
                    log.info("client info stored printer=%s keys=%s", printer.id, ",".join(sorted(answers)))
                interval = timedelta(seconds=self.services.settings.client_info_interval_seconds)
                if not answers and (printer.client_info_at is None or now - printer.client_info_at > interval):
                    ask.append(mac)
                if mqtt_mode(printer) == "full" and status.is_success and not to_bool(body.get("printingInProgress")):
                    idle.append(printer.id)
        if ask and time.monotonic() - self._asked.get(mac, float("-inf")) > ASK_AGAIN_SECONDS:
            self._asked[mac] = time.monotonic()
            self.order_client_action(mac)
        for printer_id in idle:
            self.push(printer_id)

    def _on_will(self, mac: str) -> None:
        with self.services.db.session() as session:
            for printer in self._printers(session, mac):
                reading = health.HealthReading(online=False, conditions=frozenset(printer.conditions or []),
                                               status_code=printer.status_code)
                health.apply_reading(session, printer, reading)
                log.info("cloudprnt client-will printer=%s", printer.id)


def server_setting_document(session: Any, printer: Printer, host: str, port: int) -> dict[str, Any]:
    """Build ``cloudprnt-setting.json`` for a printer in an MQTT mode, with its broker login.

    Keys follow Star's server-setting format (title, version, serverSupportProtocol, settingForMQTT);
    listing both protocols makes the printer use MQTT.
    """
    credentials = cloudprnt_credentials(session, printer)
    return {
        "title": "star_cloudprnt_server_setting",
        "version": "1.0.0",
        "serverSupportProtocol": ["HTTP", "MQTT"],
        "settingForMQTT": {
            "useTriggerPOST": mqtt_mode(printer) == "trigger",
            "mqttConnectionSetting": {
                "hostName": host,
                "portNumber": port,
                "useTls": False,
                "authenticationSetting": {"clientId": credentials.username, "username": credentials.username,
                                          "password": credentials.password},
            },
        },
    }


def _client_action_answers(raw: object) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if not isinstance(raw, list):
        return answers
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("request") not in CLIENT_ACTIONS:
            continue
        result = entry.get("result", entry.get("response"))
        if result is not None:
            answers[entry["request"]] = result if isinstance(result, dict) else str(result)[:500]
    return answers
