"""Load and validate the printer model profiles (one TOML file per model family in this folder).

A profile that does not validate raises :class:`ProfileError` naming the file, the key and the reason,
so a bad file fails at start-up instead of at the first print.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).resolve().parent


class ProfileError(ValueError):
    """A profile file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Recognition:
    sys_object_id_prefixes: tuple[str, ...] = ()
    descr_patterns: tuple[str, ...] = ()
    cloudprnt_client_types: tuple[str, ...] = ()
    device_models: tuple[str, ...] = ()


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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in data:
        raise ProfileError(f"{path.name}: key {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise ProfileError(f"{path.name}: key {key!r} = {value!r} has the wrong type; expected {kind}")
    return value


def _strings(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProfileError(f"{path.name}: key {key!r} must be a list of strings")
    return tuple(value)


def parse_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path.name}: not valid TOML: {err}") from None
    paper = _require(data, "paper", dict, path)
    recognise = data.get("recognition", {})
    if not isinstance(recognise, dict):
        raise ProfileError(f"{path.name}: [recognition] must be a table")
    patterns = _strings(recognise, "descr_patterns", path)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ProfileError(f"{path.name}: recognition.descr_patterns {pattern!r} is not a regular expression: {err}") from None
    width = _require(paper, "print_width_dots", int, path)
    if not 128 <= width <= 2400:
        raise ProfileError(f"{path.name}: paper.print_width_dots = {width} is outside 128..2400")
    return Profile(
        name=path.stem,
        vendor=_require(data, "vendor", str, path),
        model=_require(data, "model", str, path),
        protocols=_strings(data, "protocols", path),
        media_types=_strings(data, "media_types", path),
        paper_width_mm=_require(paper, "width_mm", int, path),
        print_width_dots=width,
        columns=_require(paper, "columns", int, path),
        escpos_profile=str(data.get("escpos_profile", "default")),
        codepages=_strings(data, "codepages", path),
        unicode_text=bool(data.get("unicode_text", False)),
        recognition=Recognition(
            sys_object_id_prefixes=_strings(recognise, "sys_object_id_prefixes", path),
            descr_patterns=patterns,
            cloudprnt_client_types=_strings(recognise, "cloudprnt_client_types", path),
            device_models=_strings(recognise, "device_models", path),
        ),
        quirks=_strings(data, "quirks", path),
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
    for profile in load_profiles().values():
        if client_type in profile.recognition.cloudprnt_client_types:
            return profile
    return None
