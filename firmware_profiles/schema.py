"""Schema of a firmware profile's settings: the types, the apply methods and value validation.

A profile lists every setting support staff may change on printers of its model family. Each
setting has a type with its limits, a default, and an apply method saying who carries the value:

- ``server``: the service itself applies it (print settings such as copies or cut); the name must be
  one of :data:`SERVER_SETTINGS`, because the service code reads these names.
- ``snmp``: an SNMP SET of ``oid`` with ``snmp_type``, confirmed by reading it back.
- ``device_shadow``: the desired value under ``key`` in the printfleet device protocol's settings shadow.
- ``cloudprnt_client_action``: a CloudPRNT client action ``request`` with the value as its options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Settings the service applies itself, with the protocols each one is meaningful for (empty: all).
SERVER_SETTINGS: dict[str, tuple[str, ...]] = {
    "copies": (),
    "cut": (),
    "buzzer": (),
    "header": (),
    "footer": (),
    "require_decision": (),
    "poll_interval_seconds": (),
    "cloudprnt_mqtt": ("cloudprnt", "cloudprnt_mqtt"),
    "emulation": ("cloudprnt",),
    "sdp_digest_auth": ("epson_sdp",),
    "sdp_devid": ("epson_sdp",),
}

#: Apply methods and the protocol a profile must list for each.
APPLY_METHODS: dict[str, tuple[str, ...]] = {
    "server": (),
    "snmp": ("snmp",),
    "device_shadow": ("device_mqtt",),
    "cloudprnt_client_action": ("cloudprnt", "cloudprnt_mqtt"),
}

SETTING_TYPES = ("int", "bool", "choice", "string", "text")
#: SNMP value types a setting may be written as (SMIv2 names, as pysnmp spells them).
SNMP_TYPES = ("OctetString", "Integer", "Integer32", "Unsigned32", "Gauge32", "IpAddress")

_OID = re.compile(r"^1(\.\d+)+$")
_SHADOW_KEY = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


class SettingValueError(ValueError):
    """A value does not fit a setting; the message says what is allowed."""


@dataclass(frozen=True)
class SettingSpec:
    """One changeable setting of a printer model family."""

    name: str
    type: str
    default: Any
    apply: str
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    #: True when null is an allowed value (an unset header, for example).
    nullable: bool = False
    oid: str | None = None
    snmp_type: str | None = None
    shadow_key: str | None = None
    client_action: str | None = None
    #: Lowest firmware version that supports the setting, e.g. ``"5.0"``; None when every version does.
    min_firmware: str | None = None

    @property
    def device_side(self) -> bool:
        return self.apply != "server"

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        if self.type == "int":
            text = f"a whole number from {self.minimum} to {self.maximum}"
        elif self.type == "bool":
            text = "true or false"
        elif self.type == "choice":
            text = "one of " + ", ".join(self.choices)
        else:
            text = f"text of at most {self.max_length} characters"
            if self.pattern:
                text += f" matching {self.pattern}"
        return text + (" or null" if self.nullable else "")

    def validate(self, value: Any) -> Any:
        """Return ``value`` when it fits this setting; raise SettingValueError saying what is allowed."""
        if value is None and self.nullable:
            return None
        if not self._fits(value):
            raise SettingValueError(f"{self.name}={value!r} is invalid; use {self.allowed()}")
        return value

    def _fits(self, value: Any) -> bool:
        if self.type == "int":
            return type(value) is int and self.minimum is not None and self.maximum is not None \
                and self.minimum <= value <= self.maximum
        if self.type == "bool":
            return type(value) is bool
        if self.type == "choice":
            return isinstance(value, str) and value in self.choices
        if not isinstance(value, str) or self.max_length is None or len(value) > self.max_length:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


def parse_setting(file: str, name: str, data: Any, protocols: tuple[str, ...]) -> SettingSpec:
    """Build a SettingSpec from the table ``[settings.<name>]``; raise ValueError naming the key."""
    where = f"{file}: settings.{name}"
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a table")
    unknown = set(data) - _SETTING_KEYS
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]} is not a setting key; known keys: {', '.join(sorted(_SETTING_KEYS))}")
    kind = data.get("type")
    if kind not in SETTING_TYPES:
        raise ValueError(f"{where}.type = {kind!r} is invalid; use one of {', '.join(SETTING_TYPES)}")
    apply = data.get("apply")
    if apply not in APPLY_METHODS:
        raise ValueError(f"{where}.apply = {apply!r} is invalid; use one of {', '.join(APPLY_METHODS)}")
    spec = SettingSpec(
        name=name, type=kind, default=data.get("default"), apply=apply, description=str(data.get("description", "")),
        minimum=_int_or_none(where, data, "min"), maximum=_int_or_none(where, data, "max"),
        choices=tuple(_string_list(where, data, "choices")), max_length=_int_or_none(where, data, "max_length"),
        pattern=data.get("pattern"), nullable=bool(data.get("nullable", False)), oid=data.get("oid"),
        snmp_type=data.get("snmp_type"), shadow_key=data.get("key"), client_action=data.get("request"),
        min_firmware=data.get("min_firmware"),
    )
    _check_type_limits(where, spec)
    _check_apply(where, spec, protocols)
    if "default" not in data and not spec.nullable:
        raise ValueError(f"{where}.default is missing; every setting that is not nullable needs a default")
    try:
        spec.validate(spec.default)
    except SettingValueError as err:
        raise ValueError(f"{where}.default: {err}") from None
    return spec


_SETTING_KEYS = frozenset({"type", "default", "apply", "description", "min", "max", "choices", "max_length", "pattern",
                           "nullable", "oid", "snmp_type", "key", "request", "min_firmware"})


def _int_or_none(where: str, data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (type(value) is not int):
        raise ValueError(f"{where}.{key} = {value!r} must be a whole number")
    return value


def _string_list(where: str, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where}.{key} must be a list of strings")
    return value


def _check_type_limits(where: str, spec: SettingSpec) -> None:
    if spec.type == "int" and (spec.minimum is None or spec.maximum is None or spec.minimum > spec.maximum):
        raise ValueError(f"{where}: an int setting needs min and max with min <= max")
    if spec.type == "choice" and not spec.choices:
        raise ValueError(f"{where}: a choice setting needs a non-empty choices list")
    if spec.type in ("string", "text") and (spec.max_length is None or spec.max_length < 1):
        raise ValueError(f"{where}: a {spec.type} setting needs max_length of at least 1")
    if spec.pattern is not None:
        try:
            re.compile(spec.pattern)
        except re.error as err:
            raise ValueError(f"{where}.pattern {spec.pattern!r} is not a regular expression: {err}") from None
    if spec.min_firmware is not None and not re.fullmatch(r"\d+(\.\d+)*", str(spec.min_firmware)):
        raise ValueError(f"{where}.min_firmware = {spec.min_firmware!r} must be a dotted version such as 5.0")


def _check_apply(where: str, spec: SettingSpec, protocols: tuple[str, ...]) -> None:
    needs = APPLY_METHODS[spec.apply]
    if needs and not set(needs) & set(protocols):
        raise ValueError(f"{where}.apply = {spec.apply!r} needs one of the protocols {', '.join(needs)}, "
                         f"but the profile lists {', '.join(protocols) or 'none'}")
    if spec.apply == "server":
        if spec.name not in SERVER_SETTINGS:
            raise ValueError(f"{where}: the service has no server-side setting {spec.name!r}; "
                             f"server-side settings: {', '.join(SERVER_SETTINGS)}")
        only_for = SERVER_SETTINGS[spec.name]
        if only_for and not set(only_for) & set(protocols):
            raise ValueError(f"{where}: {spec.name} applies only to the protocols {', '.join(only_for)}, "
                             f"but the profile lists {', '.join(protocols)}")
    elif spec.apply == "snmp":
        if not isinstance(spec.oid, str) or not _OID.match(spec.oid):
            raise ValueError(f"{where}.oid = {spec.oid!r} must be a dotted numeric OID such as 1.3.6.1.2.1.1.6.0")
        if spec.snmp_type not in SNMP_TYPES:
            raise ValueError(f"{where}.snmp_type = {spec.snmp_type!r} is invalid; use one of {', '.join(SNMP_TYPES)}")
    elif spec.apply == "device_shadow":
        # The device shadow carries settings by name (the MQTT bridge publishes the twin's desired
        # settings as stored), so the key must be the setting's own name.
        if spec.shadow_key != spec.name or not _SHADOW_KEY.match(spec.shadow_key):
            raise ValueError(f"{where}.key = {spec.shadow_key!r} is invalid; the device shadow key must equal the "
                             f"setting name {spec.name!r}")
    elif not isinstance(spec.client_action, str) or not spec.client_action:
        raise ValueError(f"{where}.request is missing; name the CloudPRNT client action, e.g. SetID")


def version_tuple(version: str) -> tuple[int, ...]:
    """Return the numeric parts of a firmware version (``"1.9.4"`` → ``(1, 9, 4)``); text parts are dropped."""
    return tuple(int(part) for part in re.findall(r"\d+", version))
