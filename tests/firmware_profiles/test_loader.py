"""Firmware profiles: every file loads, recognises the printers it claims, and bad files fail loudly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_profiles.loader import PROFILE_DIR, Identity, ProfileError, load_profiles, match_profile, parse_profile
from firmware_profiles.schema import SettingSpec, SettingValueError, version_tuple

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "tests" / "protocols" / "snmp" / "recordings"
SHARED_SNMP = ROOT / ".." / "shared" / "data" / "snmp" / "librenms"
PROFILE_FILES = sorted(PROFILE_DIR.glob("*.toml"))

SYS_DESCR, SYS_OBJECT_ID, HR_DEVICE_DESCR = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.25.3.2.1.3."


def recording_identity(path: Path) -> Identity:
    """Read sysObjectID, sysDescr and hrDeviceDescr from an snmprec file (``oid|type|value`` lines)."""
    oid, descriptions = None, []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, rest = line.partition("|")
        kind, _, value = rest.partition("|")
        if kind == "4x":
            value = bytes.fromhex(value).decode("utf-8", errors="replace")
        if name == SYS_OBJECT_ID:
            oid = value
        elif name == SYS_DESCR or name.startswith(HR_DEVICE_DESCR):
            descriptions.append(value)
    return Identity(sys_object_id=oid, descriptions=tuple(descriptions))


@pytest.mark.parametrize("path", PROFILE_FILES, ids=[path.stem for path in PROFILE_FILES])
def test_profile_file_loads_with_valid_defaults(path: Path) -> None:
    profile = parse_profile(path)
    assert profile.vendor
    assert profile.protocols
    for spec in profile.settings.values():
        assert spec.validate(spec.default) == spec.default
    assert all(columns >= 16 for columns in profile.fonts.values())


@pytest.mark.parametrize("path", PROFILE_FILES, ids=[path.stem for path in PROFILE_FILES])
def test_profile_escpos_name_exists_in_python_escpos(path: Path) -> None:
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", os.path.join(tempfile.gettempdir(), "printfleet-escpos"))
    os.makedirs(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"], exist_ok=True)
    from escpos.capabilities import CAPABILITIES

    assert parse_profile(path).escpos_profile in CAPABILITIES["profiles"]


def test_load_profiles_has_required_families() -> None:
    names = set(load_profiles())
    assert {"star-mc-print3", "star-tsp100iv", "star-tsp654ii-hi01x", "epson-tm-m30iii", "epson-tm-t88vii",
            "goodcom-gt6000", "generic-escpos-58mm", "generic-escpos-80mm", "hp-laserjet", "brother-laser"} <= names


@pytest.mark.parametrize(("recording", "expected"), [
    ("edge_printer.snmprec", "hp-laserjet"),
    ("half_missing.snmprec", "brother-laser"),
    ("one_byte_low_toner.snmprec", None),
    ("writable.snmprec", None),
], ids=["hp-oid-and-descr", "brother-oid", "epson-non-tm", "canon-unknown"])
def test_match_profile_synthetic_recordings(recording: str, expected: str | None) -> None:
    matched = match_profile(recording_identity(SYNTHETIC / recording))
    assert (matched.name if matched else None) == expected


@pytest.mark.parametrize(("recording", "expected"), [
    ("brother.snmprec", "brother-laser"),
    ("epson.snmprec", None),
    ("canonprinter_tm.snmprec", None),
], ids=["brother", "epson-inkjet-not-tm", "canon"])
def test_match_profile_librenms_recordings(recording: str, expected: str | None) -> None:
    path = SHARED_SNMP / recording
    if not path.exists():
        pytest.skip(f"shared SNMP recordings not found at {SHARED_SNMP.resolve()}: the shared reference data folder next to the checkout, which CI provides")
    matched = match_profile(recording_identity(path))
    assert (matched.name if matched else None) == expected


@pytest.mark.parametrize(("identity", "expected"), [
    (Identity(client_type="Star mC-Print3"), "star-mc-print3"),
    (Identity(client_type="Star TSP100IV"), "star-tsp100iv"),
    (Identity(client_type="Star Intelligent Interface HI01X"), "star-tsp654ii-hi01x"),
    (Identity(device_model="tm-m30iii"), "epson-tm-m30iii"),
    (Identity(device_model="TM-T88VII"), "epson-tm-t88vii"),
    (Identity(device_model="GT6000"), "goodcom-gt6000"),
    (Identity(device_model="escpos-58mm"), "generic-escpos-58mm"),
    (Identity(sys_object_id="1.3.6.1.4.1.1248.1.1.2.5", descriptions=("EPSON TM-T88VII",)), "epson-tm-t88vii"),
    (Identity(client_type="Star mC-Print2"), None),
], ids=["mcp3", "tsp100iv", "hi01x", "m30iii-any-case", "t88vii", "goodcom", "58mm", "t88vii-snmp", "unknown"])
def test_match_profile_reported_identity(identity: Identity, expected: str | None) -> None:
    matched = match_profile(identity)
    assert (matched.name if matched else None) == expected


GOOD = '''vendor = "Test"
model = "T1"
protocols = ["cloudprnt", "snmp"]
[paper]
width_mm = 80
print_width_dots = 576
columns = 48
[settings]
copies = { type = "int", min = 1, max = 9, default = 1, apply = "server" }
sys_name = { type = "string", max_length = 78, default = "", apply = "snmp", oid = "1.3.6.1.2.1.1.5.0", snmp_type = "OctetString" }
'''


@pytest.mark.parametrize(("old", "new", "message"), [
    ('vendor = "Test"\n', "", "key 'vendor' is missing"),
    ("print_width_dots = 576", "print_width_dots = 9000", "paper.print_width_dots = 9000 is outside 128..2400"),
    ("columns = 48", 'columns = "wide"', "key paper.'columns' = 'wide' has the wrong type; expected int"),
    ('"cloudprnt", "snmp"', '"cloudprnt", "telnet"', "key 'protocols' lists 'telnet'"),
    ("max = 9, default = 1", "max = 9, default = 12", "settings.copies.default: copies=12 is invalid; use a whole number from 1 to 9"),
    ('apply = "server" }', 'apply = "fax" }', "settings.copies.apply = 'fax' is invalid"),
    ("copies = {", "density = {", "the service has no server-side setting 'density'"),
    ('oid = "1.3.6.1.2.1.1.5.0"', 'oid = "sysName"', "settings.sys_name.oid = 'sysName' must be a dotted numeric OID"),
    ('snmp_type = "OctetString"', 'snmp_type = "Float"', "settings.sys_name.snmp_type = 'Float' is invalid"),
    ('protocols = ["cloudprnt", "snmp"]', 'protocols = ["cloudprnt"]', "settings.sys_name.apply = 'snmp' needs one of the protocols snmp"),
    ('model = "T1"', 'model = "T1"\ncolour = true', "key 'colour' is unknown"),
    ("[paper]", '[recognition]\ndescr_patterns = ["(unclosed"]\n[paper]', "recognition.descr_patterns '(unclosed' is not a regular expression"),
    ("[paper]", "[recognition]\nmatch = \"most\"\n[paper]", "recognition.match = 'most' is invalid"),
    ('vendor = "Test"', 'vendor = "Test', "not valid TOML"),
], ids=["missing-vendor", "width-range", "columns-type", "unknown-protocol", "bad-default", "bad-apply",
        "unknown-server-setting", "bad-oid", "bad-snmp-type", "apply-without-protocol", "unknown-key", "bad-regex",
        "bad-match", "bad-toml"])
def test_parse_profile_rejects_bad_file_naming_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = tmp_path / "broken-model.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProfileError, match="^broken-model.toml: ") as caught:
        parse_profile(path)
    assert message in str(caught.value)


def test_parse_profile_accepts_good_file(tmp_path: Path) -> None:
    path = tmp_path / "good-model.toml"
    path.write_text(GOOD, encoding="utf-8")
    profile = parse_profile(path)
    assert profile.name == "good-model"
    assert profile.settings["sys_name"].oid == "1.3.6.1.2.1.1.5.0"
    assert profile.defaults() == {"copies": 1, "sys_name": ""}


def test_profile_supports_compares_firmware_numerically() -> None:
    profile = load_profiles()["star-mc-print3"]
    assert profile.supports("mqtt", "5.1")
    assert profile.supports("mqtt", "10.0")
    assert not profile.supports("mqtt", "3.5")
    assert profile.supports("mqtt", None)
    assert profile.supports("no_such_feature", "0.1")


@given(st.integers(min_value=-50, max_value=50))
def test_setting_validate_int_accepts_exactly_range(value: int) -> None:
    spec = SettingSpec(name="copies", type="int", default=1, apply="server", minimum=1, maximum=9)
    if 1 <= value <= 9:
        assert spec.validate(value) == value
    else:
        with pytest.raises(SettingValueError, match=r"use a whole number from 1 to 9"):
            spec.validate(value)


@given(st.one_of(st.booleans(), st.floats(allow_nan=False), st.text(max_size=5), st.none()))
def test_setting_validate_int_rejects_other_types(value: object) -> None:
    spec = SettingSpec(name="copies", type="int", default=1, apply="server", minimum=1, maximum=9)
    with pytest.raises(SettingValueError):
        spec.validate(value)


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4))
def test_version_tuple_round_trips_dotted_numbers(parts: list[int]) -> None:
    assert version_tuple(".".join(map(str, parts))) == tuple(parts)
