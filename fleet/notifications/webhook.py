"""Signed webhooks: JSON POST with an HMAC-SHA256 signature of the exact body bytes.

Header ``X-Printfleet-Signature: t=<unix seconds>,v1=<hex>``, where the HMAC input is
``<t>.<body>`` and the key is the account's webhook secret. Receivers recompute it, compare in
constant time and reject old timestamps to stop replays. ``X-Printfleet-Delivery`` is unique per
message and stays the same across retries, so receivers can drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests

from fleet.notifications.base import DeliveryFailed
from fleet.notifications.masking import mask_url

__all__ = ["DELIVERY_HEADER", "EVENT_HEADER", "SIGNATURE_HEADER", "DeliveryFailed", "send_webhook", "sign", "verify"]

SIGNATURE_HEADER = "X-Printfleet-Signature"
DELIVERY_HEADER = "X-Printfleet-Delivery"
EVENT_HEADER = "X-Printfleet-Event"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """Check a signature header as a receiver would; True when it matches and is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def send_webhook(url: str, payload: dict[str, Any], secret: str, delivery_id: str, event: str,
                 timeout: float) -> int:
    """POST ``payload`` to ``url``; return the status code, raise DeliveryFailed unless it is 2xx."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "printfleet-webhook/1",
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
    }
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as err:
        raise DeliveryFailed(f"POST {mask_url(url)} failed: {type(err).__name__}") from err
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"POST {mask_url(url)} returned {response.status_code}")
    return response.status_code
