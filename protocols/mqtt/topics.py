"""Topic names of Star CloudPRNT over MQTT and of the printfleet device protocol, and the per-device ACL.

CloudPRNT (Star CloudPRNT Protocol Guide, MQTT topics): the server publishes on
``star/cloudprnt/to-device/{mac}/{method}`` and subscribes ``star/cloudprnt/to-server/#``; the printer
publishes on ``star/cloudprnt/to-server/{mac}/{method}``. The MAC is lowercase and colon-separated.

Device protocol: everything under ``printfleet/v1/devices/{device_id}/``; the device id is the
device's MQTT username.
"""

from __future__ import annotations

from fleet.mqtt_devices import DeviceIdentity

CLOUDPRNT_TO_DEVICE = "star/cloudprnt/to-device"
CLOUDPRNT_TO_SERVER = "star/cloudprnt/to-server"
DEVICE_ROOT = "printfleet/v1/devices"

#: Topics a device publishes (relative to its own prefix).
DEVICE_PUBLISHES = frozenset({"state", "health", "settings/reported", "commands/ack", "jobs/pull", "jobs/result"})
#: Topics the server publishes to a device (relative to its prefix).
SERVER_PUBLISHES = frozenset({"settings/desired", "settings/delta", "commands/request", "jobs/new", "jobs/ack"})


def cloudprnt_to_device(mac: str, method: str) -> str:
    return f"{CLOUDPRNT_TO_DEVICE}/{mac}/{method}"


def device_topic(device_id: str, name: str) -> str:
    return f"{DEVICE_ROOT}/{device_id}/{name}"


def split_cloudprnt(topic: str) -> tuple[str, str] | None:
    """Return ``(mac, method)`` of a ``to-server`` topic, or None for anything else."""
    prefix = CLOUDPRNT_TO_SERVER + "/"
    if not topic.startswith(prefix):
        return None
    mac, _, method = topic.removeprefix(prefix).partition("/")
    if not mac or not method or "/" in method:
        return None
    return mac, method


def split_device(topic: str) -> tuple[str, str] | None:
    """Return ``(device_id, name)`` of a device-protocol topic, or None for anything else."""
    prefix = DEVICE_ROOT + "/"
    if not topic.startswith(prefix):
        return None
    device_id, _, name = topic.removeprefix(prefix).partition("/")
    if not device_id or not name:
        return None
    return device_id, name


def device_may_publish(identity: DeviceIdentity, topic: str) -> bool:
    """True when ``identity`` may publish ``topic``: only the device-to-server topics of its own id."""
    if identity.protocol == "cloudprnt":
        parts = split_cloudprnt(topic)
        return parts is not None and parts[0] == identity.topic_id
    parts = split_device(topic)
    return parts is not None and parts[0] == identity.topic_id and parts[1] in DEVICE_PUBLISHES


def device_may_subscribe(identity: DeviceIdentity, topic_filter: str) -> bool:
    """True when ``topic_filter`` stays inside the device's own prefix (wildcards only after it)."""
    if identity.protocol == "cloudprnt":
        prefix = f"{CLOUDPRNT_TO_DEVICE}/{identity.topic_id}/"
    else:
        prefix = f"{DEVICE_ROOT}/{identity.topic_id}/"
    return topic_filter.startswith(prefix) or topic_filter == prefix.rstrip("/")
