"""The printfleet device protocol over MQTT: birth and last will, health, settings shadow, commands, jobs.

Topics are ``printfleet/v1/devices/{device_id}/{name}`` (see ``docs/mqtt.md`` for the schemas).

Jobs follow the same exactly-once rules as HTTP. A job is claimed (``fetched``) in the database and
committed before it is published, and a result completes it once. A job without a result becomes
``unconfirmed`` through the scheduler and is never re-sent on the server's own initiative. A device
that reconnects publishes ``jobs/pull``; the server answers with its waiting jobs and re-sends the
fetched jobs it still holds, because the broker may have lost them. That is the repeatable fetch
of the HTTP protocols, so the device must drop a job id it has already printed and only send its
result again.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from sqlalchemy import select, update

from fleet import dispatch, health
from fleet.models import Job, Printer
from fleet.mqtt_devices import (
    acknowledge_command,
    device_state,
    find_device,
    find_device_health,
    find_settings_twin,
    record_connection,
    record_reported,
    settings_delta,
)
from fleet.mqtt_models import MqttCommand, MqttCredential
from fleet.rendering import ESCPOS, job_document, receipt_profile, render
from fleet.services import Services
from fleet.states import JobState
from protocols.mqtt import topics
from protocols.mqtt.bridge import MqttBridge
from protocols.mqtt.payloads import (
    DEVICE_MODELS,
    CommandAck,
    HealthMessage,
    JobResult,
    ReportedSettings,
    StateMessage,
    parse_device_message,
    server_message,
)

log = logging.getLogger(__name__)

#: Jobs claimed per push, so one busy printer cannot hold the worker for long.
PUSH_BATCH = 20


class DeviceProtocol:
    """Translates device-protocol messages into fleet calls and pushes jobs, settings and commands."""

    def __init__(self, services: Services, bridge: MqttBridge) -> None:
        self.services = services
        self.bridge = bridge
        #: Last health each device reported and was stored, by device id, with its printer id. A report
        #: that repeats it only refreshes the printer's last-seen time; no transaction is opened.
        self._stored_health: dict[str, tuple[int, HealthMessage]] = {}

    def attach(self) -> None:
        # Health at QoS 0: at QoS 1 the broker drops reports beyond its queue limit while the worker is
        # busy, and a lost report is replaced by the device's next one. State (birth and will) must
        # keep its order with health, and a broker sends QoS 0 at once but may hold QoS 1 behind its
        # in-flight window, so state is QoS 0 too. It is retained, so a reconnect brings it back.
        for name in DEVICE_MODELS:
            qos = 0 if name in ("health", "state") else 1
            if name == "health":
                self.bridge.subscribe_batch(topics.device_topic("+", name), self.handle_health, qos=qos)
            else:
                self.bridge.subscribe(topics.device_topic("+", name), self.handle, qos=qos)

    # -- incoming --------------------------------------------------------------------------------------

    def handle_health(self, batch: list[tuple[str, bytes]]) -> None:
        """Store a run of health reports in one transaction.

        A report equal to the device's stored one only refreshes its last-seen time.
        """
        pending: list[tuple[str, str, HealthMessage]] = []
        latest: dict[str, HealthMessage] = {}
        for topic, payload in batch:
            parts = topics.split_device(topic)
            if parts is None or not payload:
                continue
            device_id = parts[0]
            message = parse_device_message(HealthMessage, payload, device_id, topic)
            if message is None:
                continue
            stored = self._stored_health.get(device_id)
            previous = latest.get(device_id, stored[1] if stored is not None else None)
            if previous == message:
                if stored is not None:
                    self.services.presence.touch(stored[0])
                log.debug("health unchanged device=%s", device_id)
                continue
            latest[device_id] = message
            pending.append((device_id, topic, message))
        log.debug("health batch reports=%s changed=%s", len(batch), len(pending))
        if not pending:
            return
        try:
            self._store_health(pending)
        except Exception:
            # One bad report must not cost the others: store them one by one, each in its own transaction.
            log.exception("health batch failed reports=%s; storing them one by one", len(pending))
            for report in pending:
                try:
                    self._store_health([report])
                except Exception:
                    log.exception("health report failed device=%s topic=%s", report[0], report[1])

    def _store_health(self, reports: list[tuple[str, str, HealthMessage]]) -> None:
        stored: list[tuple[str, int, HealthMessage]] = []
        changed: dict[int, health.PrinterHealth] = {}
        rows = health.HealthRows()
        with self.services.db.session() as session:
            printers = find_device_health(session, {device_id for device_id, _topic, _message in reports})
            for device_id, topic, message in reports:
                printer = printers.get(device_id)
                if printer is None:
                    log.warning("mqtt message from unknown device device=%s topic=%s", device_id, topic)
                    continue
                health.apply_reading(session, printer, _reading(message), rows=rows)
                self.services.presence.touch(printer.id)
                changed[printer.id] = printer
                stored.append((device_id, printer.id, message))
            rows.write(session, changed.values())
        for device_id, printer_id, message in stored:
            self._stored_health[device_id] = (printer_id, message)

    def handle(self, topic: str, payload: bytes) -> None:
        parts = topics.split_device(topic)
        if parts is None or parts[1] not in DEVICE_MODELS:
            return
        device_id, name = parts
        if not payload:
            # An empty retained message clears the device's retained state; there is nothing to apply.
            return
        message = parse_device_message(DEVICE_MODELS[name], payload, device_id, topic)
        if message is None:
            return
        # Birth, will and the rest may change the printer's health, so the next report is stored again.
        self._stored_health.pop(device_id, None)
        with self.services.db.session() as session:
            printer = find_device(session, device_id)
            if printer is None:
                log.warning("mqtt message from unknown device device=%s topic=%s", device_id, topic)
                return
            printer_id = printer.id
            if isinstance(message, JobResult):
                ack = self._on_result(session, printer, message)
                follow_up = None
            else:
                ack = None
                follow_up = self._apply(session, printer, message)
        if ack is not None:
            self.bridge.publish(*ack)
        if follow_up == "push":
            self.push(printer_id, resend_held=True)
        elif follow_up == "settings":
            self.publish_settings(printer_id)

    def _apply(self, session: Any, printer: Printer, message: Any) -> str | None:
        """Apply ``message`` inside the caller's transaction; return the follow-up to run after commit."""
        if isinstance(message, StateMessage):
            return self._on_state(session, printer, message)
        if isinstance(message, ReportedSettings):
            twin = record_reported(session, printer, message.settings, message.version)
            return "settings" if settings_delta(twin) and message.version < twin.desired_version else None
        if isinstance(message, CommandAck):
            acknowledge_command(session, printer, message.command_id, message.ok, message.detail)
            return None
        return "push"

    def _on_state(self, session: Any, printer: Printer, message: StateMessage) -> str | None:
        info = {key: value for key, value in (("agent", message.agent), ("model", message.model)) if value}
        record_connection(session, printer, message.online, info)
        if message.online:
            return "settings"
        # The last will: the device (and so the printer behind it) cannot be reached any more.
        reading = health.HealthReading(online=False, conditions=frozenset(printer.conditions or []),
                                       status_code="device offline")
        health.apply_reading(session, printer, reading)
        return None

    def _on_result(self, session: Any, printer: Printer, message: JobResult) -> tuple[str, dict[str, Any]]:
        """Record a job result; return the ``jobs/ack`` message to publish after commit."""
        state = record_result(session, printer, message)
        ack = server_message(job_id=message.job_id, state=state)
        return topics.device_topic(_device_id(session, printer), "jobs/ack"), ack

    # -- outgoing --------------------------------------------------------------------------------------

    def push(self, printer_id: int, resend_held: bool = False) -> int:
        """Claim the printer's waiting jobs and publish them; return how many were published.

        Without ``resend_held`` this runs for new jobs and does nothing while the device is
        disconnected: the job stays queued until the device pulls it.
        """
        messages: list[tuple[str, dict[str, Any]]] = []
        with self.services.db.session() as session:
            printer = session.get(Printer, printer_id)
            if printer is None or printer.deleted_at is not None or printer.protocol != "device_mqtt":
                return 0
            state = device_state(session, printer_id)
            if not resend_held and not state.connected:
                log.debug("job push skipped printer=%s: device disconnected", printer_id)
                return 0
            device_id = _device_id(session, printer)
            if resend_held:
                held = session.scalars(select(Job).where(Job.printer_id == printer_id, Job.state == JobState.FETCHED)
                                       .order_by(Job.id)).all()
                for job in held:
                    log.info("job re-sent on device request job=%s printer=%s", job.id, printer_id)
                    messages.append(self._job_message(device_id, job))
            for _ in range(PUSH_BATCH):
                claim = dispatch.claim_next(session, printer)
                if claim is None:
                    break
                messages.append(self._job_message(device_id, claim.job))
        for topic, body in messages:
            self.bridge.publish(topic, body)
        return len(messages)

    def _job_message(self, device_id: str, job: Job) -> tuple[str, dict[str, Any]]:
        body = job_message(job, self.services.settings.base_url)
        log.info("job published job=%s printer=%s", job.id, job.printer_id)
        return topics.device_topic(device_id, "jobs/new"), body

    def publish_settings(self, printer_id: int) -> None:
        """Publish the desired settings (retained) and, when they differ from the reported ones, the delta."""
        with self.services.db.session() as session:
            printer = session.get(Printer, printer_id)
            if printer is None or printer.protocol != "device_mqtt":
                return
            twin = find_settings_twin(session, printer_id)
            if twin is None:
                return
            device_id = _device_id(session, printer)
            version = twin.desired_version
            desired = server_message(version=version, settings=dict(twin.desired or {}))
            delta = settings_delta(twin)
        if version == 0:
            return
        self.bridge.publish(topics.device_topic(device_id, "settings/desired"), desired, retain=True)
        if delta:
            self.bridge.publish(topics.device_topic(device_id, "settings/delta"),
                                server_message(version=version, delta=delta))
            log.info("settings delta published printer=%s version=%s keys=%s", printer_id, version,
                     ",".join(sorted(delta)))

    def publish_command(self, command_id: str) -> None:
        with self.services.db.session() as session:
            command = session.scalars(select(MqttCommand).where(MqttCommand.command_id == command_id)).first()
            if command is None:
                return
            printer = session.get(Printer, command.printer_id)
            assert printer is not None
            device_id = _device_id(session, printer)
            body = server_message(command_id=command.command_id, name=command.name, params=command.params)
        self.bridge.publish(topics.device_topic(device_id, "commands/request"), body)


def _reading(message: HealthMessage) -> health.HealthReading:
    return health.HealthReading(online=message.online, conditions=frozenset(message.conditions),
                                status_code=message.status_code, detail=message.detail)


def job_message(job: Job, base_url: str | None) -> dict[str, Any]:
    """Render ``job`` as ESC/POS and wrap it in a ``jobs/new`` payload (also the HTTP fallback's body)."""
    rendered = render(job_document(job, base_url), ESCPOS, receipt_profile(job.printer))
    return server_message(job_id=job.token, kind=job.kind, order_id=job.order_id, media_type=ESCPOS,
                          encoding="base64", data=base64.b64encode(rendered.body).decode("ascii"))


def record_result(session: Any, printer: Printer, message: JobResult) -> str:
    """Apply a device's job result once; return the job state to acknowledge (``unknown`` for an unknown job)."""
    if message.status == "unknown":
        # The device cannot tell whether the paper came out, so the job needs a person now and is never re-sent.
        changed = session.execute(
            update(Job).where(Job.token == message.job_id, Job.printer_id == printer.id,
                              Job.state == JobState.FETCHED).values(state=JobState.UNCONFIRMED)
        ).rowcount
        log.warning("job result unknown job=%s printer=%s marked_unconfirmed=%s; reprint it if it did not print",
                    message.job_id, printer.id, bool(changed))
        job = session.scalars(select(Job).where(Job.token == message.job_id, Job.printer_id == printer.id)).first()
        return str(job.state) if job is not None else "unknown"
    confirmed = dispatch.confirm_job(session, printer, message.job_id, message.status == "printed",
                                     message.code or message.status)
    return str(confirmed.state) if confirmed is not None else "unknown"


def held_or_next_job(session: Any, printer: Printer) -> Job | None:
    """Return the oldest fetched job without a result, else claim the next waiting one (HTTP fallback)."""
    held = session.scalars(select(Job).where(Job.printer_id == printer.id, Job.state == JobState.FETCHED)
                           .order_by(Job.id)).first()
    if held is not None:
        return held  # type: ignore[no-any-return]
    claim = dispatch.claim_next(session, printer)
    return claim.job if claim is not None else None


def _device_id(session: Any, printer: Printer) -> str:
    username = session.scalars(select(MqttCredential.username).where(MqttCredential.printer_id == printer.id)).first()
    return str(username or f"printer-{printer.id}")
