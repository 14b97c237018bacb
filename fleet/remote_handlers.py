"""Registry entries for the channels whose core services already exist: SNMP SETs and the device shadow.

The SNMP service (:mod:`fleet.snmp_service`, backed by the pysnmp adapter the composition root
installs) writes sysName, sysLocation and sysContact with a read-after-write and reboots with
prtGeneralReset. The MQTT device service (:mod:`fleet.mqtt_devices`) publishes the twin's desired
settings and sends commands to printfleet agents. Protocol adapters with no core service
(CloudPRNT client actions, CloudPRNT over MQTT) register their own handlers with
:func:`fleet.remote.get_registry`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fleet import settings_twin
from fleet.events import Event
from fleet.models import Printer
from fleet.remote import CommandOutcome, CommandRequest, PushOutcome, RemoteRegistry, SettingPush, get_registry

if TYPE_CHECKING:
    from fleet.services import Services

log = logging.getLogger(__name__)

#: SNMPv2-MIB objects the SNMP service can SET, by OID (single instances, hence ``.0``).
SNMP_OBJECTS = {"1.3.6.1.2.1.1.5.0": "sysName", "1.3.6.1.2.1.1.6.0": "sysLocation", "1.3.6.1.2.1.1.4.0": "sysContact"}


def install_remote_handlers(services: Services) -> RemoteRegistry:
    """Register the handlers of the channels this process can reach and subscribe to device reports."""
    registry = get_registry(services)
    if "snmp_backend" in services.extras:
        registry.register_setting_applier("snmp", apply_snmp_settings)
        registry.register_command("snmp", "reboot", reboot_over_snmp)
    registry.register_setting_applier("device_shadow", push_device_shadow)
    for command in ("reboot", "status", "identify"):
        registry.register_command("device_mqtt", command, command_over_device_protocol)
    services.bus.subscribe("mqtt.settings_reported", lambda event: _settle_after_report(services, event))
    return registry


def apply_snmp_settings(push: SettingPush) -> PushOutcome:
    """SET each value over SNMP; the SNMP service reads every value back before it returns."""
    from fleet import snmp_service

    reported = {}
    for name, value in push.values.items():
        oid = push.specs[name].oid or ""
        obj = SNMP_OBJECTS.get(oid)
        if obj is None:
            return PushOutcome("failed", reported, f"SNMP SET of {name} (oid={oid}) is not supported; the SNMP "
                               f"service writes {', '.join(SNMP_OBJECTS.values())}")
        outcome = snmp_service.set_object(push.services, push.printer.id, obj, str(value),
                                          account_id=push.printer.account_id)
        reported[name] = outcome.after
    confirmed = all(reported[name] == value for name, value in push.values.items())
    message = "" if confirmed else f"printer {push.printer.id} read back {reported} instead of {push.values}"
    return PushOutcome("confirmed" if confirmed else "failed", reported, message)


def reboot_over_snmp(request: CommandRequest) -> CommandOutcome:
    """Restart the printer by writing prtGeneralReset powerCycleReset(4)."""
    from fleet import snmp_service

    mode = str(request.params.get("mode", "powerCycleReset"))
    outcome = snmp_service.reboot(request.printer.id, account_id=request.printer.account_id, mode=mode,
                                  services=request.services)
    return CommandOutcome("done", f"prtGeneralReset={mode} written ({outcome.status})", {"snmp_status": outcome.status})


def push_device_shadow(push: SettingPush) -> PushOutcome:
    """Ask the MQTT bridge to publish the desired settings; the agent confirms with ``settings/reported``."""
    from fleet import mqtt_devices

    with push.services.db.session() as session:
        printer = session.get(Printer, push.printer.id)
        if printer is None:
            return PushOutcome("failed", message=f"printer {push.printer.id} no longer exists")
        mqtt_devices.request_settings_push(session, printer)
    return PushOutcome("pending", message="published to the device shadow; waiting for the device to report")


def command_over_device_protocol(request: CommandRequest) -> CommandOutcome:
    from fleet import mqtt_devices

    with request.services.db.session() as session:
        printer = session.get(Printer, request.printer.id)
        if printer is None:
            return CommandOutcome("failed", f"printer {request.printer.id} no longer exists")
        command = mqtt_devices.send_command(session, printer, request.command, request.params)
        command_id = command.command_id
    return CommandOutcome("sent", "sent over the printfleet device protocol", {"command_id": command_id})


def _settle_after_report(services: Services, event: Event) -> None:
    """Mark settings versions applied once a device's report matches them (the MQTT service stored it)."""
    printer_id = event.data.get("printer_id")
    if not isinstance(printer_id, int):
        return
    with services.db.session() as session:
        settings_twin.settle(session, printer_id)
