"""Masking of recipients and secrets, and phone number normalisation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.notifications.masking import mask_email, mask_phone, mask_recipient, mask_secret, mask_url
from fleet.notifications.sms import customer_phone, normalize_phone


@pytest.mark.parametrize(("address", "masked"), [
    ("zoe@example.org", "z***@example.org"),
    ("a@b.example", "a***@b.example"),
    ("not-an-address", "***"),
], ids=["plain", "one-letter", "no-at"])
def test_mask_email_keeps_first_letter_and_domain(address: str, masked: str) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(("number", "masked"), [
    ("+4930123456767", "+49******67"),
    ("+33612345678", "+33******78"),
    ("+4915", "******"),
], ids=["german", "french", "too-short"])
def test_mask_phone_keeps_prefix_and_last_two(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_mask_phone_hides_length() -> None:
    assert len(mask_phone("+4930123456767")) == len(mask_phone("+491511234567890"))


@pytest.mark.parametrize(("url", "masked"), [
    ("https://hooks.example.com/orders/secret-token?x=1", "https://hooks.example.com/***"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("nonsense", "***"),
], ids=["path-and-query", "root", "not-a-url"])
def test_mask_url_hides_path(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_secret_long_and_short() -> None:
    assert mask_secret("cs_0123456789abcdef0123") == "****0123"
    assert mask_secret("short") == "****"
    assert mask_secret(None) is None
    assert mask_secret("") is None


def test_mask_recipient_by_channel() -> None:
    assert mask_recipient("email", "zoe@example.org") == "z***@example.org"
    assert mask_recipient("sms", "+4930123456767") == "+49******67"
    assert mask_recipient("webhook", "https://h.example/hook/abc") == "https://h.example/***"
    assert mask_recipient("onpage", "Xy7QpL2mN8aBcdef") == "Xy7Q***"


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("+49 30 1234567", None, "+49301234567"),
    ("0049 (30) 123-4567", None, "+49301234567"),
    ("030 1234567", "49", "+49301234567"),
    ("06 12 34 56 78", "33", "+33612345678"),
    ("030 1234567", None, None),
    ("+0 123 456 789", None, None),
    ("+49 30", None, None),
    ("call me", "49", None),
    ("", "49", None),
], ids=["e164-spaces", "00-prefix", "national-de", "national-fr", "no-country", "zero-cc", "too-short",
        "letters", "empty"])
def test_normalize_phone_cases(raw: str, country: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(("customer", "account_code", "expected"), [
    ({"phone": "0221 555 0199", "country": "DE"}, None, "+492215550199"),
    ({"phone": "0221 555 0199", "country": "de"}, "33", "+332215550199"),
    ({"phone": "+44 20 7946 0000", "country": "DE"}, None, "+442079460000"),
    ({"phone": "0221 555 0199", "country": "ZZ"}, None, None),
    ({"country": "DE"}, None, None),
], ids=["shop-country", "account-code-wins", "international", "unknown-country", "no-phone"])
def test_customer_phone_country_fallback(customer: dict[str, str], account_code: str | None,
                                         expected: str | None) -> None:
    assert customer_phone(customer, account_code) == expected


@given(st.text(alphabet="+0123456789 -()./", max_size=25), st.sampled_from([None, "1", "49", "353"]))
def test_normalize_phone_returns_e164_or_none(raw: str, country: str | None) -> None:
    result = normalize_phone(raw, country)
    assert result is None or re.fullmatch(r"\+[1-9]\d{6,14}", result)
