"""JSON payloads of the printfleet device protocol (version 1) and the checks every incoming message passes.

Every device message carries ``"v": 1``. A message that is larger than 64 KiB, is not a JSON object,
has another ``v`` or does not match its model is logged at WARNING with the device and the topic, and
changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

#: Largest incoming payload accepted, in bytes (64 KiB).
MAX_PAYLOAD_BYTES = 64 * 1024
PROTOCOL_VERSION = 1

Name = Annotated[str, Field(min_length=1, max_length=64)]
Condition = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
SettingValue = str | int | float | bool | None


class DeviceMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    v: Literal[1]


class StateMessage(DeviceMessage):
    """``state`` (retained): the birth message (``online: true``) or the last will (``online: false``)."""

    online: bool
    agent: Annotated[str, Field(max_length=100)] | None = None
    model: Annotated[str, Field(max_length=100)] | None = None


class HealthMessage(DeviceMessage):
    """``health``: the printer's status as the device reads it."""

    online: bool
    conditions: Annotated[list[Condition], Field(max_length=16)] = []
    status_code: Annotated[str, Field(max_length=64)] | None = None
    detail: dict[str, Any] = {}


class ReportedSettings(DeviceMessage):
    """``settings/reported``: the settings in effect and the desired version the device has applied."""

    version: Annotated[int, Field(ge=0)]
    settings: Annotated[dict[Name, SettingValue], Field(max_length=200)]


class CommandAck(DeviceMessage):
    """``commands/ack``: the outcome of one command."""

    command_id: Annotated[str, Field(min_length=1, max_length=32)]
    ok: bool
    detail: dict[str, Any] = {}


class JobPull(DeviceMessage):
    """``jobs/pull``: a request for the device's waiting jobs and for its fetched jobs without a result."""


class JobResult(DeviceMessage):
    """``jobs/result``: ``printed``, ``failed``, or ``unknown`` when the device cannot tell (crash mid-print)."""

    job_id: Annotated[str, Field(min_length=1, max_length=32)]
    status: Literal["printed", "failed", "unknown"]
    code: Annotated[str, Field(max_length=64)] | None = None


#: Model of each device-to-server topic, by the topic part after the device id.
DEVICE_MODELS: dict[str, type[DeviceMessage]] = {
    "state": StateMessage,
    "health": HealthMessage,
    "settings/reported": ReportedSettings,
    "commands/ack": CommandAck,
    "jobs/pull": JobPull,
    "jobs/result": JobResult,
}

M = TypeVar("M", bound=BaseModel)


def decode_object(payload: bytes, source: str, topic: str) -> dict[str, Any] | None:
    """Return ``payload`` as a JSON object, or None after a WARNING naming ``source`` and ``topic``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        log.warning("mqtt payload rejected device=%s topic=%s: %s bytes is over the %s-byte limit", source, topic,
                    len(payload), MAX_PAYLOAD_BYTES)
        return None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        log.warning("mqtt payload rejected device=%s topic=%s: not JSON (%s)", source, topic, err)
        return None
    if not isinstance(data, dict):
        log.warning("mqtt payload rejected device=%s topic=%s: JSON %s instead of an object", source, topic,
                    type(data).__name__)
        return None
    return data


def parse_device_message(model: type[M], payload: bytes, device_id: str, topic: str) -> M | None:
    """Validate a device-protocol payload; return None after a WARNING when it is rejected."""
    data = decode_object(payload, device_id, topic)
    if data is None:
        return None
    if data.get("v") != PROTOCOL_VERSION:
        log.warning("mqtt payload rejected device=%s topic=%s: unknown protocol version v=%r (this server speaks v=%s)",
                    device_id, topic, str(data.get("v"))[:20], PROTOCOL_VERSION)
        return None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '-'}: {e['msg']}" for e in err.errors()[:5])
        log.warning("mqtt payload rejected device=%s topic=%s: %s", device_id, topic, problems)
        return None


def server_message(**fields: Any) -> dict[str, Any]:
    """Return a server-to-device payload with the protocol version set."""
    return {"v": PROTOCOL_VERSION, **fields}
