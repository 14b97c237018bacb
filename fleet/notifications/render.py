"""Rendering of customer and operator messages from Jinja templates, localized with Babel.

One template per event (``templates/messages/<event>.jinja``) contains every part a channel needs:
``subject``, ``text`` and ``html`` for email, ``sms``, ``onpage`` and ``note`` (the order note
written back to a shop). English is the source language; German and French catalogs are the
``.po`` files under ``locales/``, compiled into memory with ``babel.messages`` the first time a
locale is used, so no compiled ``.mo`` file is committed.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALES = Path(__file__).resolve().parent / "locales"

#: Languages with a shipped catalog; English is the source language of the templates.
SUPPORTED_LOCALES = ("en", "de", "fr")
DEFAULT_LOCALE = "en"
#: Events with a customer template, in the order the documentation lists them.
CUSTOMER_EVENTS = ("accepted", "rejected", "cancelled", "delayed", "expired", "failed")
#: Parts one template renders; ``html`` is the only one with HTML escaping.
PARTS = ("subject", "text", "html", "sms", "onpage", "note")


class UnknownTemplate(LookupError):
    """No template exists for the event."""


def pick_locale(*candidates: str | None) -> str:
    """Return the first candidate whose language has a catalog (``de-AT`` → ``de``), else English."""
    for candidate in candidates:
        if not candidate:
            continue
        language = candidate.replace("-", "_").split("_")[0].lower()
        if language in SUPPORTED_LOCALES:
            return language
    return DEFAULT_LOCALE


@cache
def load_translations(locale: str) -> NullTranslations:
    """Compile ``locales/<locale>/LC_MESSAGES/messages.po`` into memory; English gets no catalog."""
    source = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not source.exists():
        return NullTranslations()
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    log.debug("message catalog compiled locale=%s messages=%s", locale, len(catalog))
    return Translations(fp=buffer)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@cache
def environment(locale: str, html: bool) -> Environment:
    """Return the environment of a locale and escaping mode; one each, so threads never share a catalog switch."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=html, extensions=["jinja2.ext.i18n"],
        trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined,
    )
    env.install_gettext_translations(load_translations(locale), newstyle=True)  # type: ignore[attr-defined]

    def local_time(value: str | None, zone: str | None = None) -> str:
        if not value:
            return ""
        return format_time(datetime.fromisoformat(value), "short", tzinfo=_zone(zone), locale=locale)

    def local_datetime(value: str | None, zone: str | None = None) -> str:
        if not value:
            return ""
        return format_datetime(datetime.fromisoformat(value), "short", tzinfo=_zone(zone), locale=locale)

    env.filters["local_time"] = local_time
    env.filters["local_datetime"] = local_datetime
    return env


def message_context(payload: dict[str, Any]) -> dict[str, Any]:
    """Fill the keys every template may use, so a payload from an older release still renders."""
    defaults: dict[str, Any] = {
        "status": "", "order_reference": "", "customer_name": "", "shop_name": "", "eta": None,
        "reject_reason": None, "timezone": "UTC", "status_url": None, "printer_name": "", "order_count": 0,
        "waiting_minutes": 0,
    }
    return {**defaults, **payload}


def render_part(template: str, part: str, payload: dict[str, Any], locale: str | None = None) -> str:
    """Render one part of ``messages/<template>.jinja`` in ``locale`` (or the payload's locale)."""
    chosen = pick_locale(locale, payload.get("locale"))
    env = environment(chosen, html=part == "html")
    try:
        compiled = env.get_template(f"messages/{template}.jinja")
    except TemplateNotFound:
        raise UnknownTemplate(f"no message template {template!r}; known: {', '.join(known_templates())}") from None
    rendered = compiled.render({**message_context(payload), "part": part, "locale": chosen})
    return rendered.strip() if part != "html" else rendered


def render_email(template: str, payload: dict[str, Any], locale: str | None = None) -> tuple[str, str, str]:
    """Return (subject, text body, HTML body)."""
    subject = " ".join(render_part(template, "subject", payload, locale).split())
    return subject, render_part(template, "text", payload, locale) + "\n", render_part(template, "html", payload, locale)


def known_templates() -> list[str]:
    folder = TEMPLATES / "messages"
    return sorted(path.stem for path in folder.glob("*.jinja") if not path.stem.startswith("_"))


def template_for_event(event: str) -> str:
    """Map an outbox event name (``order.accepted``, ``operator.orders_waiting``) to its template."""
    return event.split(".", 1)[1] if event.startswith("order.") else event.replace(".", "_")
