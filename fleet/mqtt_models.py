"""Tables of the MQTT area: broker credentials, device connection state and commands.

Each table is keyed by ``printer_id`` rather than adding columns to ``printers``, so the MQTT area can
change without touching the core schema. Desired and reported settings (the device shadow) live in
the remote-operation area's settings twin, ``fleet.remote_models.SettingsTwin``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.models import Base, IdType, Printer, utcnow


class MqttCredential(Base):
    """Broker login of one printer: a username unique across the service and a password digest."""

    __tablename__ = "mqtt_credentials"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"), unique=True)
    #: MQTT username and client id, e.g. ``pf-3f9a0c1d2e4b`` (device protocol) or ``cloudprnt-12``.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the password. Passwords are server-generated and 128-bit random, so a fast hash is enough.
    password_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)

    printer: Mapped[Printer] = relationship()


class MqttDevice(Base):
    """Connection state (birth and last will) of one device-protocol printer."""

    __tablename__ = "mqtt_devices"

    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    #: True after a birth message, False after the last will or a clean ``online: false`` state.
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_at: Mapped[datetime | None] = mapped_column(default=None)
    will_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Software the device reported in its birth message, e.g. ``{"agent": "printfleet-agent/0.1.0"}``.
    device_info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MqttCommand(Base):
    """A command sent to a device (test print, reboot, apply settings) and its acknowledgement."""

    __tablename__ = "mqtt_commands"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"), index=True)
    #: Random id the device echoes in its acknowledgement.
    command_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``sent``, ``done`` or ``failed``.
    state: Mapped[str] = mapped_column(String(16), default="sent")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
