"""Remote operation registry: how the core reaches printers without importing a protocol.

Protocol adapters register, at composition time, what they can do:

- a *setting applier* per apply method of the firmware profiles (``snmp``, ``device_shadow``,
  ``cloudprnt_client_action``): ``handler(push: SettingPush) -> PushOutcome``;
- a *command handler* per (channel, command), e.g. ``("snmp", "reboot")`` or
  ``("device_mqtt", "identify")``: ``handler(request: CommandRequest) -> CommandOutcome``;
- a *channel provider* that names the extra channels a printer can be reached on besides its
  registered protocol (an SNMP side channel of a CloudPRNT printer, for example).

Handlers run outside any database transaction and may block (an SNMP SET waits for the read-back).
They return ``confirmed``/``done`` when the printer confirmed, ``pending``/``sent`` when the printer
will confirm later (the adapter then calls :func:`fleet.settings_twin.record_reported`), or
``failed`` with a message. They may raise :class:`fleet.errors.FleetError` for a printer that cannot
be reached; any other exception counts as a failure and is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from fleet.errors import FleetError
from fleet.models import Printer

if TYPE_CHECKING:
    from firmware_profiles.schema import SettingSpec
    from fleet.services import Services

log = logging.getLogger(__name__)

REGISTRY_KEY = "remote_registry"

#: Channels each apply method needs; a printer must be reachable on one of them.
METHOD_CHANNELS: dict[str, tuple[str, ...]] = {
    "snmp": ("snmp",),
    "device_shadow": ("device_mqtt",),
    "cloudprnt_client_action": ("cloudprnt_mqtt", "cloudprnt"),
}
#: Protocols whose printers fetch print jobs (test prints are jobs).
JOB_PROTOCOLS = frozenset({"cloudprnt", "goodcom", "epson_sdp", "device_mqtt"})


class NotSupported(FleetError):
    """The printer's protocol (or model) cannot carry the requested operation."""

    status = 409
    code = "not_supported"

    def __init__(self, message: str, protocol: str, supported: list[str]) -> None:
        super().__init__(message, protocol=protocol, supported=supported)
        self.supported = supported


@dataclass(frozen=True)
class PrinterRef:
    """A detached copy of what a handler needs to know about a printer."""

    id: int
    account_id: int
    name: str
    protocol: str
    mac: str | None
    profile: str
    client_info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, printer: Printer, profile: str) -> PrinterRef:
        return cls(printer.id, printer.account_id, printer.name, printer.protocol, printer.mac, profile,
                   dict(printer.client_info or {}))


@dataclass(frozen=True)
class SettingPush:
    """Device-side values of one settings version for one printer, all with the same apply method."""

    services: Services
    printer: PrinterRef
    version: int
    method: str
    values: dict[str, Any]
    specs: dict[str, SettingSpec]


@dataclass(frozen=True)
class PushOutcome:
    #: ``confirmed`` (values read back), ``pending`` (the printer confirms later) or ``failed``.
    state: str
    #: Values the printer confirmed, by setting name.
    reported: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class CommandRequest:
    services: Services
    printer: PrinterRef
    channel: str
    command: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandOutcome:
    #: ``done`` (the printer confirmed), ``sent`` (handed to the printer's channel) or ``failed``.
    state: str
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


SettingApplier = Callable[[SettingPush], PushOutcome]
CommandHandler = Callable[[CommandRequest], CommandOutcome]
ChannelProvider = Callable[[Session, Printer], Iterable[str]]


class RemoteRegistry:
    """Handlers registered by the protocol adapters of one app instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._appliers: dict[str, SettingApplier] = {}
        self._commands: dict[tuple[str, str], CommandHandler] = {}
        self._channel_providers: list[ChannelProvider] = []

    def register_setting_applier(self, method: str, handler: SettingApplier) -> None:
        """Make ``handler`` apply device settings whose profile apply method is ``method``."""
        if method not in METHOD_CHANNELS:
            raise ValueError(f"apply method {method!r} is unknown; use one of {', '.join(METHOD_CHANNELS)}")
        with self._lock:
            self._appliers[method] = handler
        log.info("setting applier registered method=%s", method)

    def register_command(self, channel: str, command: str, handler: CommandHandler) -> None:
        """Make ``handler`` run ``command`` on printers reachable on ``channel``."""
        with self._lock:
            self._commands[(channel, command)] = handler
        log.info("command handler registered channel=%s command=%s", channel, command)

    def register_channel_provider(self, provider: ChannelProvider) -> None:
        with self._lock:
            self._channel_providers.append(provider)

    def setting_applier(self, method: str) -> SettingApplier | None:
        with self._lock:
            return self._appliers.get(method)

    def command_handler(self, channel: str, command: str) -> CommandHandler | None:
        with self._lock:
            return self._commands.get((channel, command))

    def channels(self, session: Session, printer: Printer) -> list[str]:
        """Return the channels ``printer`` can be reached on: its protocol first, then extra ones."""
        found = [printer.protocol]
        if printer.protocol == "cloudprnt" and (printer.settings or {}).get("cloudprnt_mqtt", "off") != "off":
            found.append("cloudprnt_mqtt")
        with self._lock:
            providers = list(self._channel_providers)
        for provider in providers:
            for channel in provider(session, printer):
                if channel not in found:
                    found.append(channel)
        return found

    def commands_for(self, channels: list[str]) -> dict[str, str]:
        """Return ``{command: channel}`` for the commands some handler carries on ``channels``."""
        with self._lock:
            registered = list(self._commands)
        available: dict[str, str] = {}
        for channel in channels:
            for handler_channel, command in registered:
                if handler_channel == channel and command not in available:
                    available[command] = channel
        return dict(sorted(available.items()))

    def method_channel(self, method: str, channels: list[str]) -> str | None:
        """Return the channel of ``channels`` that carries ``method``, or None."""
        return next((channel for channel in METHOD_CHANNELS.get(method, ()) if channel in channels), None)


def get_registry(services: Services) -> RemoteRegistry:
    """Return the registry of ``services``, creating an empty one on first use."""
    registry = services.extras.get(REGISTRY_KEY)
    if registry is None:
        registry = services.extras.setdefault(REGISTRY_KEY, RemoteRegistry())
    assert isinstance(registry, RemoteRegistry)
    return registry
