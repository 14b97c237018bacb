"""Masking of recipients and secrets for API responses and log lines.

Masks keep just enough to recognise a value (``z***@example.org``, ``+49******67``,
``****f00d``) and never reveal the length of what they hide.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_HIDDEN = "***"


def mask_email(address: str) -> str:
    """Return ``z***@example.org`` for ``zoe@example.org``."""
    local, at, domain = address.partition("@")
    if not at:
        return _HIDDEN
    return f"{local[:1]}{_HIDDEN}@{domain}"


def mask_phone(number: str) -> str:
    """Return ``+49******67`` for ``+4930123456767``: country code prefix and the last two digits."""
    digits = "".join(char for char in number if char.isdigit())
    if len(digits) < 6:
        return "******"
    prefix = "+" + digits[:2] if number.strip().startswith("+") else digits[:2]
    return f"{prefix}******{digits[-2:]}"


def mask_url(url: str) -> str:
    """Keep scheme and host of ``url``; paths and queries often carry tokens, so they are hidden."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return _HIDDEN
    port = f":{parts.port}" if parts.port else ""
    hidden = "/" + _HIDDEN if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{parts.hostname}{port}{hidden}"


def mask_secret(secret: str | None) -> str | None:
    """Return ``****`` plus the last four characters of a long secret, or ``****`` for a short one."""
    if not secret:
        return None
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def mask_recipient(channel: str, recipient: str) -> str:
    """Mask ``recipient`` the way its channel needs."""
    if channel == "email":
        return mask_email(recipient)
    if channel == "sms":
        return mask_phone(recipient)
    if recipient.startswith(("http://", "https://")):
        return mask_url(recipient)
    return recipient[:4] + _HIDDEN
