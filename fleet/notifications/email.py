"""Customer emails over SMTP, rendered from Jinja templates with gettext for localization."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from fleet.notifications.webhook import DeliveryFailed

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALES = Path(__file__).resolve().parent / "locales"


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
    )
    translations = Translations.load(str(LOCALES), [locale], domain="messages") if LOCALES.exists() else None
    env.install_gettext_translations(translations or NullTranslations(), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_order_email(context: dict[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text body, HTML body) for an order status email in the context's locale."""
    env = _environment(str(context.get("locale") or "en"))
    subject = env.get_template("email/order_subject.txt").render(**context).strip()
    text = env.get_template("email/order_status.txt").render(**context)
    html = env.get_template("email/order_status.html").render(**context)
    return subject, text, html


def send_email(host: str, port: int, sender: str, recipient: str, subject: str, text: str, html: str,
               user: str | None = None, password: str | None = None, starttls: bool = False,
               timeout: float = 15.0, message_id: str | None = None) -> None:
    """Send one message; raise DeliveryFailed when the server refuses it or cannot be reached."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            if starttls:
                client.starttls()
            if user and password:
                client.login(user, password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        raise DeliveryFailed(f"SMTP {host}:{port} failed: {type(err).__name__}: {err}") from err
