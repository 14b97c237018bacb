"""Load and validate the printer model profiles (one TOML file per model family in this folder).

A profile that does not validate raises :class:`ProfileError` naming the file, the key and the reason,
so a bad file fails at start-up instead of at the first print. The file format is described in
``docs/firmware-profiles.md``; the settings part lives in :mod:`firmware_profiles.schema`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from firmware_profiles.schema import SettingSpec, parse_setting, version_tuple

PROFILE_DIR = Path(__file__).resolve().parent

#: Protocols a profile may list.
KNOWN_PROTOCOLS = ("cloudprnt", "cloudprnt_mqtt", "goodcom", "epson_sdp", "snmp", "device_mqtt")
#: Remote commands a profile may list as supported by the model.
KNOWN_COMMANDS = ("reboot", "status", "identify")

_TOP_LEVEL_KEYS = frozenset({
    "schema_version", "vendor", "model", "family", "protocols", "media_types", "escpos_profile", "codepages",
    "unicode_text", "quirks", "commands", "paper", "fonts", "recognition", "firmware", "settings",
})
_RECOGNITION_KEYS = frozenset({"sys_object_id_prefixes", "descr_patterns", "cloudprnt_client_types", "device_models",
                               "match"})
_PAPER_KEYS = frozenset({"width_mm", "print_width_dots", "columns", "dots_per_mm"})
_OID_PREFIX = re.compile(r"^1(\.\d+)+$")


class ProfileError(ValueError):
    """A profile file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Recognition:
    """What a printer reports that identifies this model family."""

    sys_object_id_prefixes: tuple[str, ...] = ()
    #: Regular expressions searched in sysDescr, hrDeviceDescr and prtGeneralPrinterName.
    descr_patterns: tuple[str, ...] = ()
    cloudprnt_client_types: tuple[str, ...] = ()
    #: Model names a printfleet device protocol agent reports (compared without case).
    device_models: tuple[str, ...] = ()
    #: ``any``: a sysObjectID prefix or a description pattern is enough; ``all``: both must match.
    match: str = "any"


@dataclass(frozen=True)
class Identity:
    """What one printer reported about itself, as far as the protocols found out."""

    client_type: str | None = None
    sys_object_id: str | None = None
    descriptions: tuple[str, ...] = ()
    device_model: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    vendor: str
    model: str
    protocols: tuple[str, ...]
    media_types: tuple[str, ...]
    paper_width_mm: int
    print_width_dots: int
    columns: int
    escpos_profile: str
    codepages: tuple[str, ...]
    unicode_text: bool
    recognition: Recognition
    quirks: tuple[str, ...] = ()
    family: str = ""
    #: Columns per line of each printer font, e.g. ``{"a": 48, "b": 64}``.
    fonts: dict[str, int] = field(default_factory=dict, compare=False)
    #: Lowest firmware version of each feature, e.g. ``{"job_token": "3.2"}``.
    firmware_minimums: dict[str, str] = field(default_factory=dict, compare=False)
    settings: dict[str, SettingSpec] = field(default_factory=dict, compare=False)
    #: Remote commands the model supports (whether the printer's protocol carries them is decided elsewhere).
    commands: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def supports(self, feature: str, firmware: str | None) -> bool:
        """Tell whether ``firmware`` is new enough for ``feature``; an unknown firmware version counts as new enough."""
        minimum = self.firmware_minimums.get(feature)
        if minimum is None or not firmware:
            return True
        return version_tuple(firmware) >= version_tuple(minimum)

    def defaults(self) -> dict[str, Any]:
        return {name: spec.default for name, spec in self.settings.items()}


def _fail(path: Path, message: str) -> ProfileError:
    return ProfileError(f"{path.name}: {message}")


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path, prefix: str = "") -> Any:
    if key not in data:
        raise _fail(path, f"key {prefix}{key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(path, f"key {prefix}{key!r} = {value!r} has the wrong type; expected {expected}")
    return value


def _strings(data: dict[str, Any], key: str, path: Path, prefix: str = "") -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(path, f"key {prefix}{key!r} must be a list of strings")
    return tuple(value)


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, f"[{key}] must be a table")
    return value


def _reject_unknown(data: dict[str, Any], known: frozenset[str], path: Path, prefix: str = "") -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(path, f"key {prefix}{unknown[0]!r} is unknown; known keys: {', '.join(sorted(known))}")


def _parse_recognition(data: dict[str, Any], path: Path) -> Recognition:
    recognise = _table(data, "recognition", path)
    _reject_unknown(recognise, _RECOGNITION_KEYS, path, "recognition.")
    patterns = _strings(recognise, "descr_patterns", path, "recognition.")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise _fail(path, f"recognition.descr_patterns {pattern!r} is not a regular expression: {err}") from None
    prefixes = _strings(recognise, "sys_object_id_prefixes", path, "recognition.")
    for prefix in prefixes:
        if not _OID_PREFIX.match(prefix):
            raise _fail(path, f"recognition.sys_object_id_prefixes {prefix!r} is not a dotted numeric OID")
    match = recognise.get("match", "any")
    if match not in ("any", "all"):
        raise _fail(path, f"recognition.match = {match!r} is invalid; use any or all")
    return Recognition(
        sys_object_id_prefixes=prefixes, descr_patterns=patterns,
        cloudprnt_client_types=_strings(recognise, "cloudprnt_client_types", path, "recognition."),
        device_models=_strings(recognise, "device_models", path, "recognition."), match=match,
    )


def _parse_paper(data: dict[str, Any], path: Path) -> tuple[int, int, int]:
    paper = _require(data, "paper", dict, path)
    _reject_unknown(paper, _PAPER_KEYS, path, "paper.")
    width_mm = _require(paper, "width_mm", int, path, "paper.")
    if not 20 <= width_mm <= 600:
        raise _fail(path, f"paper.width_mm = {width_mm} is outside 20..600")
    dots = _require(paper, "print_width_dots", int, path, "paper.")
    if not 128 <= dots <= 2400:
        raise _fail(path, f"paper.print_width_dots = {dots} is outside 128..2400")
    columns = _require(paper, "columns", int, path, "paper.")
    if not 16 <= columns <= 200:
        raise _fail(path, f"paper.columns = {columns} is outside 16..200")
    return width_mm, dots, columns


def _parse_named_values(data: dict[str, Any], key: str, kind: type, path: Path) -> dict[str, Any]:
    table = _table(data, key, path)
    for name, value in table.items():
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _fail(path, f"key {key}.{name} = {value!r} has the wrong type; expected {kind.__name__}")
    return dict(table)


def _parse_firmware(data: dict[str, Any], path: Path) -> dict[str, str]:
    firmware = _table(data, "firmware", path)
    _reject_unknown(firmware, frozenset({"minimums"}), path, "firmware.")
    minimums = _parse_named_values(firmware, "minimums", str, path) if firmware else {}
    for feature, version in minimums.items():
        if not re.fullmatch(r"\d+(\.\d+)*", version):
            raise _fail(path, f"firmware.minimums.{feature} = {version!r} must be a dotted version such as 3.2")
    return minimums


def _parse_settings(data: dict[str, Any], protocols: tuple[str, ...], path: Path) -> dict[str, SettingSpec]:
    settings = _table(data, "settings", path)
    parsed: dict[str, SettingSpec] = {}
    for name, spec in settings.items():
        try:
            parsed[name] = parse_setting(path.name, name, spec, protocols)
        except ValueError as err:
            raise ProfileError(str(err)) from None
    return parsed


def _checked_names(values: tuple[str, ...], known: tuple[str, ...], key: str, path: Path) -> tuple[str, ...]:
    for value in values:
        if value not in known:
            raise _fail(path, f"key {key!r} lists {value!r}; use any of {', '.join(known)}")
    return values


def parse_profile(path: Path) -> Profile:
    """Read and validate one profile file; raise ProfileError naming the file, the key and the reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, f"not valid TOML: {err}") from None
    _reject_unknown(data, _TOP_LEVEL_KEYS, path)
    schema_version = data.get("schema_version", 1)
    if schema_version != 1:
        raise _fail(path, f"schema_version = {schema_version!r} is not supported; this loader reads version 1")
    protocols = _checked_names(_strings(data, "protocols", path), KNOWN_PROTOCOLS, "protocols", path)
    if not protocols:
        raise _fail(path, "key 'protocols' is empty; list at least one protocol the model speaks")
    width_mm, dots, columns = _parse_paper(data, path)
    return Profile(
        name=path.stem,
        vendor=_require(data, "vendor", str, path),
        model=_require(data, "model", str, path),
        family=str(data.get("family", "")),
        protocols=protocols,
        media_types=_strings(data, "media_types", path),
        paper_width_mm=width_mm,
        print_width_dots=dots,
        columns=columns,
        escpos_profile=str(data.get("escpos_profile", "default")),
        codepages=_strings(data, "codepages", path),
        unicode_text=bool(data.get("unicode_text", False)),
        recognition=_parse_recognition(data, path),
        quirks=_strings(data, "quirks", path),
        fonts=_parse_named_values(data, "fonts", int, path),
        firmware_minimums=_parse_firmware(data, path),
        settings=_parse_settings(data, protocols, path),
        commands=_checked_names(_strings(data, "commands", path), KNOWN_COMMANDS, "commands", path),
        raw=data,
    )


@cache
def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, Profile]:
    """Return every profile in ``directory`` by name (the file stem)."""
    return {path.stem: parse_profile(path) for path in sorted(directory.glob("*.toml"))}


def get_profile(name: str) -> Profile:
    profiles = load_profiles()
    if name not in profiles:
        raise ProfileError(f"profile {name!r} does not exist; known profiles: {', '.join(sorted(profiles))}")
    return profiles[name]


def match_cloudprnt(client_type: str) -> Profile | None:
    """Return the profile whose CloudPRNT ClientType list contains ``client_type``."""
    return match_profile(Identity(client_type=client_type))


def _prefix_arcs(sys_object_id: str | None, prefixes: tuple[str, ...]) -> int:
    """Return the number of arcs of the longest prefix that ``sys_object_id`` starts with, 0 for none."""
    if not sys_object_id:
        return 0
    oid = sys_object_id.strip().lstrip(".")
    best = 0
    for prefix in prefixes:
        if oid == prefix or oid.startswith(prefix + "."):
            best = max(best, prefix.count(".") + 1)
    return best


def _snmp_score(recognition: Recognition, identity: Identity) -> int:
    arcs = _prefix_arcs(identity.sys_object_id, recognition.sys_object_id_prefixes)
    described = any(re.search(pattern, text) for pattern in recognition.descr_patterns for text in identity.descriptions)
    if recognition.match == "all":
        if recognition.sys_object_id_prefixes and not arcs or recognition.descr_patterns and not described:
            return 0
        if not arcs and not described:
            return 0
    return 2 * arcs + (50 if described else 0)


def _score(profile: Profile, identity: Identity) -> int:
    recognition = profile.recognition
    if identity.client_type and identity.client_type in recognition.cloudprnt_client_types:
        return 1000
    if identity.device_model and identity.device_model.casefold() in {m.casefold() for m in recognition.device_models}:
        return 1000
    return _snmp_score(recognition, identity)


def match_profile(identity: Identity, profiles: dict[str, Profile] | None = None) -> Profile | None:
    """Return the profile that best fits what a printer reported, or None when nothing fits.

    An exact CloudPRNT ClientType or device model wins. Otherwise the SNMP facts score: a longer
    matching sysObjectID prefix scores higher, and a description pattern hit adds more, so a model
    pattern beats a bare vendor prefix. Ties go to the profile name that sorts first.
    """
    candidates = load_profiles() if profiles is None else profiles
    best: Profile | None = None
    best_score = 0
    for name in sorted(candidates):
        score = _score(candidates[name], identity)
        if score > best_score:
            best, best_score = candidates[name], score
    return best
