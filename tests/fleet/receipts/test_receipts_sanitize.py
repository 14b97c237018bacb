"""Tests for fleet.receipts.sanitize."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.receipts.document import Columns, Text
from fleet.receipts.sanitize import clean_lines, clean_text

_REMOVED = {"Cc", "Cf", "Cs", "Co", "Cn"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bob\x1b@\x1dV\x00Smith", "Bob@VSmith"),
        ("DLE\x10\x04\x01 EOT", "DLE EOT"),
        ("FS\x1c&GS\x1d!RS\x1eUS\x1f", "FS&GS!RSUS"),
        ("del\x7fc1\x9b[2J", "delc1[2J"),
        ("tab\there", "tab here"),
        ("line\r\nbreak", "line break"),
        ("rtl\u202eevil\u200b", "rtlevil"),
        ("private\ue000use", "privateuse"),
    ],
    ids=["esc-gs", "dle", "fs-gs-rs-us", "del-c1", "tab", "crlf", "bidi-zero-width", "private-use"],
)
def test_clean_text_removes_controls(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_composes_to_nfc() -> None:
    assert clean_text("Cre\u0300me bru\u0302le\u0301e") == "Crème brûlée"
    assert len(clean_text("Cre\u0300me")) == 5


def test_clean_text_composes_across_removed_control() -> None:
    assert clean_text("e\x1b\u0301") == "é"


def test_clean_text_keeps_scripts() -> None:
    text = "Müller Ñandú Привет Καλημέρα 你好 €"
    assert clean_text(text) == text


def test_clean_lines_splits_and_trims() -> None:
    assert clean_lines("\r\nShop\x1b\r\n\nMain St  \n\n") == ["Shop", "", "Main St"]


def test_clean_lines_empty_input() -> None:
    assert clean_lines("") == []
    assert clean_lines("\n \n") == []


def test_document_rejects_control_characters() -> None:
    with pytest.raises(ValueError, match="control or format characters"):
        Text("Bob\x1dV\x00")
    with pytest.raises(ValueError, match="clean_text"):
        Columns("1 x Pizza", "6.00\x1b")


@settings(deadline=None)
@given(st.text())
def test_clean_text_never_returns_controls(raw: str) -> None:
    cleaned = clean_text(raw)
    assert not [char for char in cleaned if unicodedata.category(char) in _REMOVED]
    assert not [char for char in cleaned if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F]


@settings(deadline=None)
@given(st.text())
def test_clean_text_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    assert unicodedata.is_normalized("NFC", once)


@settings(deadline=None)
@given(st.text())
def test_clean_text_output_accepted_by_document(raw: str) -> None:
    assert Text(clean_text(raw)).text == clean_text(raw)
