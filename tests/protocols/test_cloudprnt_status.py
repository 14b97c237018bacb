"""Decoding of Star CloudPRNT status: the ``statusCode``/``code`` strings and the ASB status bytes."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.cloudprnt_status import (
    StatusCode,
    asb_conditions,
    code_conditions,
    parse_asb,
    parse_status_code,
    to_bool,
)

#: Anything a JSON poll body or a query string can put in a status field.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


# -- parse_status_code -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "description"),
    [("200 OK", "200", "OK"), ("200%20OK", "200", "OK"), ("200+OK", "200", "OK"), ("200", "200", ""),
     ("2000", "2000", ""), ("201 Taken", "201", "Taken"), ("211%20Paper%20Low", "211", "Paper Low"),
     ("410 Paper Out", "410", "Paper Out"), ("511 Media Decode Failure", "511", "Media Decode Failure"),
     (" 520 Job Download Failed ", "520", "Job Download Failed"), (200, "200", ""), ("OK", "", "OK"),
     (None, "", ""), ("", "", "")],
    ids=["text", "encoded", "plus", "bare", "four-digit", "taken", "paper-low", "paper-out", "decode-failure",
         "padded", "json-number", "word-only", "none", "empty"],
)
def test_parse_status_code_examples(raw: object, code: str, description: str) -> None:
    status = parse_status_code(raw)

    assert status.code == code
    assert status.description == description


@pytest.mark.parametrize(
    ("raw", "success"),
    [("200 OK", True), ("200%20OK", True), ("2000", True), ("201 Taken", True), ("211 Paper Low", True),
     ("OK", True), ("ok", True), ("410 Paper Out", False), ("511", False), ("520", False), ("", False),
     (None, False), ("Error", False)],
)
def test_status_code_success(raw: object, success: bool) -> None:
    assert parse_status_code(raw).is_success is success


def test_status_code_text_form() -> None:
    assert str(parse_status_code("211%20Paper%20Low")) == "211 Paper Low"
    assert str(parse_status_code("200")) == "200"
    assert str(StatusCode("", "")) == ""


def test_status_code_description_truncated() -> None:
    status = parse_status_code("200 " + "x" * 500)

    assert status.code == "200"
    assert len(status.description) == 60


@given(JSON_VALUES)
def test_parse_status_code_never_raises(raw: object) -> None:
    status = parse_status_code(raw)

    assert isinstance(status.code, str)
    assert isinstance(status.description, str)
    assert isinstance(status.is_success, bool)


@given(st.text())
def test_parse_status_code_never_raises_on_text(raw: str) -> None:
    parse_status_code(raw)


@given(
    digits=st.text(alphabet="0123456789", min_size=2, max_size=3),
    # Lone surrogates ("Cs") cannot be UTF-8 encoded, so no printer can send them and quote() raises.
    description=st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=30),
    encode=st.booleans(),
)
def test_parse_status_code_two_prefix_is_success(digits: str, description: str, encode: bool) -> None:
    raw = f"2{digits} {description}" if description else f"2{digits}"
    if encode:
        raw = quote(raw)

    status = parse_status_code(raw)

    assert status.is_success
    assert status.code == f"2{digits}"


@given(
    first=st.sampled_from("13456789"),
    digits=st.text(alphabet="0123456789", min_size=2, max_size=3),
    description=st.text(max_size=30),
)
def test_parse_status_code_other_prefix_not_success(first: str, digits: str, description: str) -> None:
    assert not parse_status_code(f"{first}{digits} {description}").is_success


# -- code_conditions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "conditions"),
    [("200 OK", set()), ("201 Taken", set()), ("210 Paper Low", {"paper_low"}), ("211 Paper Low", {"paper_low"}),
     ("220 Printing", set()), ("410 Paper Out", {"paper_out"}), ("411 Paper Jam", {"jam"}),
     ("420 Cover Open", {"cover_open"}), ("400 Error", {"printer_error"}), ("511", set()), ("", set())],
)
def test_code_conditions_by_family(raw: str, conditions: set[str]) -> None:
    assert code_conditions(parse_status_code(raw)) == conditions


# -- parse_asb and asb_conditions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("23 6 0 0 0 0 0 0 0 ", bytes([0x23, 0x06, 0, 0, 0, 0, 0, 0, 0])),
     ("23 86 00 00 00 00 00 00 00 00 00", bytes([0x23, 0x86] + [0] * 9)),
     ("23 6 28 0 0 0 0 0 0", bytes([0x23, 0x06, 0x28, 0, 0, 0, 0, 0, 0])),
     ("23 86 00 00 00 0C 00 00 00 00 00", bytes([0x23, 0x86, 0, 0, 0, 0x0C, 0, 0, 0, 0, 0]))],
    ids=["unpadded", "padded", "unpadded-bits", "uppercase-hex"],
)
def test_parse_asb_formats(raw: str, expected: bytes) -> None:
    assert parse_asb(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "23 6 zz", "123 6 0", "23,6,0", 23, ["23"], "-1 0"],
                         ids=["none", "empty", "blank", "not-hex", "three-digits", "commas", "number", "list",
                              "negative"])
def test_parse_asb_unreadable_is_none(raw: object) -> None:
    assert parse_asb(raw) is None


@pytest.mark.parametrize(
    ("raw", "conditions"),
    [("23 6 0 0 0 0 0 0 0 ", set()), ("23 6 20 0 0 0 0 0 0 ", {"cover_open"}),
     ("23 86 08 00 00 00 00 00 00 00 00", {"offline_bit"}),
     ("23 86 00 00 00 04 00 00 00 00 00", {"paper_low"}),
     ("23 86 08 00 00 0C 00 00 00 00 00", {"offline_bit", "paper_low", "paper_out"}),
     ("23 6", set())],
    ids=["idle", "cover-open", "offline", "paper-low", "paper-out", "headers-only"],
)
def test_asb_conditions_from_bits(raw: str, conditions: set[str]) -> None:
    assert asb_conditions(parse_asb(raw)) == conditions


def test_asb_conditions_of_none_empty() -> None:
    assert asb_conditions(None) == set()


@given(JSON_VALUES)
def test_parse_asb_never_raises(raw: object) -> None:
    asb = parse_asb(raw)

    assert asb is None or isinstance(asb, bytes)
    assert isinstance(asb_conditions(asb), set)


@given(st.text(alphabet="0123456789abcdefABCDEF +-_ x\t", max_size=60))
def test_parse_asb_never_raises_on_near_hex(raw: str) -> None:
    asb = parse_asb(raw)

    assert asb is None or all(0 <= byte <= 255 for byte in asb)


@given(st.lists(st.integers(min_value=0, max_value=255), min_size=1, max_size=16), st.booleans())
def test_parse_asb_round_trips_bytes(values: list[int], padded: bool) -> None:
    raw = " ".join(f"{value:02x}" if padded else f"{value:x}" for value in values) + ("" if padded else " ")

    assert parse_asb(raw) == bytes(values)


# -- to_bool -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("true", True), ("True", True), (" TRUE ", True), ("false", False),
     ("False", False), ("", False), (None, False), (1, True), (0, False), ("1", True), ([], False)],
)
def test_to_bool_values(raw: object, expected: bool) -> None:
    assert to_bool(raw) is expected


@given(JSON_VALUES)
def test_to_bool_never_raises(raw: object) -> None:
    assert isinstance(to_bool(raw), bool)
