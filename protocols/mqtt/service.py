"""MQTT in one app process: the embedded broker (unless ``mqtt_url`` names one), the bridge and both protocols.

Bus events reach MQTT through the bridge's work queue: ``job.queued`` pushes the job to its printer,
``mqtt.desired`` publishes a settings change and ``mqtt.command`` a command, each after the commit that
caused it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass

from fleet.events import Event
from fleet.models import Printer
from fleet.remote import CommandOutcome, CommandRequest, get_registry
from fleet.mqtt_devices import DeviceIdentity, verify_login
from fleet.services import Services
from protocols.mqtt.bridge import BrokerAddress, MqttBridge
from protocols.mqtt.broker import DeviceDirectory, EmbeddedBroker
from protocols.mqtt.cloudprnt_mqtt import CloudPrntMqtt
from protocols.mqtt.device import DeviceProtocol

log = logging.getLogger(__name__)

#: Key of the running :class:`MqttService` in ``Services.extras``.
EXTRA_KEY = "mqtt"
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class PublicBroker:
    """Broker address for printers, as written into ``cloudprnt-setting.json``."""

    #: None when the embedded broker listens on every address: the caller uses the host printers already reach.
    host: str | None
    port: int


class MqttService:
    """Owns the broker (when embedded), the bridge and the two MQTT protocols of one app."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.broker: EmbeddedBroker | None = None
        client_id = f"printfleet-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        if settings.mqtt_url:
            address = BrokerAddress.from_url(settings.mqtt_url)
            self.public = PublicBroker(address.host, address.port)
        else:
            directory = DeviceDirectory(check_device=self._check_device)
            self.broker = EmbeddedBroker(settings.mqtt_host, settings.mqtt_port, directory)
            address = BrokerAddress(settings.mqtt_host if settings.mqtt_host not in _WILDCARD_HOSTS else "127.0.0.1",
                                    settings.mqtt_port, directory.server_username, directory.server_password)
            public_host = None if settings.mqtt_host in _WILDCARD_HOSTS else settings.mqtt_host
            self.public = PublicBroker(public_host, settings.mqtt_port)
        self.bridge = MqttBridge(address, client_id)
        base = settings.base_url or f"http://{settings.host}:{settings.port}"
        self.cloudprnt = CloudPrntMqtt(services, self.bridge, base)
        self.devices = DeviceProtocol(services, self.bridge)

    def _check_device(self, username: str, password: str) -> DeviceIdentity | None:
        with self.services.read_db.session() as session:
            return verify_login(session, username, password)

    def start(self) -> None:
        """Start the broker (raises BrokerStartError when its port is taken), then the bridge."""
        if self.broker is not None:
            self.broker.start()
        self.cloudprnt.attach()
        self.devices.attach()
        bus = self.services.bus
        bus.subscribe("job.queued", self._on_job_queued)
        bus.subscribe("mqtt.desired", self._on_desired)
        bus.subscribe("mqtt.command", self._on_command)
        get_registry(self.services).register_command("cloudprnt_mqtt", "status", self._cloudprnt_status)
        self.bridge.start()

    def _cloudprnt_status(self, request: CommandRequest) -> CommandOutcome:
        """Remote command ``status`` for CloudPRNT printers reached over MQTT."""
        with self.services.read_db.session() as session:
            printer = session.get(Printer, request.printer.id)
            if printer is None:
                return CommandOutcome("failed", f"printer {request.printer.id} no longer exists")
            session.expunge(printer)
        try:
            method = self.cloudprnt.request_status(printer)
        except ValueError as err:
            return CommandOutcome("failed", str(err))
        return CommandOutcome("sent", f"published {method}; the printer reports its status in the next moments",
                              {"method": method})

    def stop(self) -> None:
        self.bridge.stop()
        if self.broker is not None:
            self.broker.stop()

    # -- bus handlers (run in the committing thread: only queue work) ----------------------------------

    def _on_job_queued(self, event: Event) -> None:
        printer_id = event.data.get("printer_id")
        if isinstance(printer_id, int):
            self.bridge.submit(lambda: self.push(printer_id))

    def _on_desired(self, event: Event) -> None:
        printer_id = event.data.get("printer_id")
        if isinstance(printer_id, int):
            self.bridge.submit(lambda: self.devices.publish_settings(printer_id))

    def _on_command(self, event: Event) -> None:
        command_id = event.data.get("command_id")
        if isinstance(command_id, str):
            self.bridge.submit(lambda: self.devices.publish_command(command_id))

    def push(self, printer_id: int) -> None:
        """Tell ``printer_id`` about new work over the protocol it speaks."""
        with self.services.read_db.session() as session:
            printer = session.get(Printer, printer_id)
            protocol = printer.protocol if printer is not None else None
        if protocol == "cloudprnt":
            self.cloudprnt.push(printer_id)
        elif protocol == "device_mqtt":
            self.devices.push(printer_id)


def start_mqtt(services: Services) -> MqttService:
    """Create and start MQTT for ``services``; raises BrokerStartError when the embedded broker cannot bind."""
    service = MqttService(services)
    service.start()
    services.extras[EXTRA_KEY] = service
    return service
