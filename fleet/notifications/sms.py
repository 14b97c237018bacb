"""SMS through an HTTP gateway: a provider-neutral adapter and a Twilio-style provider.

:class:`SmsGateway` is what the SMS channel needs from a provider: send one text to one E.164
number. :class:`TwilioGateway` speaks the Twilio Programmable Messaging API (2010-04-01):
``POST {base}/2010-04-01/Accounts/{sid}/Messages.json`` with the form fields ``To``, ``From`` and
``Body`` and HTTP basic auth (account SID, auth token). Success is 201 with the message JSON.
The base URL is configurable, so a compatible gateway or a local stand-in can take its place.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod

import requests

from fleet.notifications.base import DeliveryFailed

log = logging.getLogger(__name__)

#: E.164 allows at most 15 digits after the plus sign; country codes never start with 0.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: Longest text sent: Twilio takes at most 1600 characters in ``Body``.
MAX_BODY_CHARS = 1600

#: Country calling codes by ISO 3166-1 alpha-2 code, for shop phone fields written without one.
COUNTRY_CALLING_CODES = {
    "AT": "43", "BE": "32", "CH": "41", "CZ": "420", "DE": "49", "DK": "45", "ES": "34", "FI": "358",
    "FR": "33", "GB": "44", "IE": "353", "IT": "39", "LU": "352", "NL": "31", "NO": "47", "PL": "48",
    "PT": "351", "SE": "46", "US": "1", "CA": "1", "AU": "61", "NZ": "64",
}


def normalize_phone(raw: str | None, country_code: str | None = None) -> str | None:
    """Return ``raw`` as E.164 (``+4930123456``), or None when it cannot be one.

    Spaces, dashes, dots, slashes and brackets are dropped, a leading ``00`` becomes ``+``, and a
    national number with a leading 0 gets ``country_code`` (digits, e.g. ``49``) when one is given.
    """
    if not raw:
        return None
    number = re.sub(r"[\s\-./()]", "", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+") and country_code:
        number = f"+{country_code}{number.removeprefix('0')}"
    return number if _E164.match(number) else None


def customer_phone(customer: dict[str, object], account_country_code: str | None) -> str | None:
    """Return the customer's phone as E.164, reading national numbers by the account's calling code,
    else by the customer's ISO country (shop orders carry one)."""
    country_code = account_country_code or COUNTRY_CALLING_CODES.get(str(customer.get("country") or "").upper())
    return normalize_phone(str(customer.get("phone") or ""), country_code)


class SmsGateway(ABC):
    """A provider that sends one text message to one E.164 number."""

    @abstractmethod
    def send_sms(self, to: str, body: str) -> str:
        """Send ``body`` to ``to``; return the provider's message id or raise :class:`DeliveryFailed`."""


class TwilioGateway(SmsGateway):
    """The Twilio Programmable Messaging API, or any gateway with the same request shape."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str, sender: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.sender = sender
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"TwilioGateway(base_url={self.base_url!r}, account_sid={self.account_sid!r})"

    def send_sms(self, to: str, body: str) -> str:
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        form = {"To": to, "From": self.sender, "Body": body[:MAX_BODY_CHARS]}
        try:
            response = requests.post(url, data=form, auth=(self.account_sid, self._auth_token), timeout=self.timeout,
                                     allow_redirects=False)
        except requests.RequestException as err:
            raise DeliveryFailed(f"SMS gateway {self.base_url} failed: {type(err).__name__}") from err
        if response.status_code in (200, 201):
            return str(_json_field(response, "sid") or "")
        detail = _error_detail(response)
        # Twilio: 429 (code 20429) and 5xx are safe to retry; other 4xx (21211 invalid To, 20003 bad
        # credentials) fail the same way again.
        retryable = response.status_code == 429 or response.status_code >= 500
        raise DeliveryFailed(f"SMS gateway {self.base_url} returned {response.status_code}{detail}",
                             permanent=not retryable)


def _json_field(response: requests.Response, name: str) -> object:
    try:
        document = response.json()
    except ValueError:
        return None
    return document.get(name) if isinstance(document, dict) else None


def _error_detail(response: requests.Response) -> str:
    # Only the error code: gateway messages quote the phone number, and errors reach the delivery log.
    code = _json_field(response, "code")
    return "" if code is None else f" (error code {code})"
