"""Email over SMTP with a text and an HTML part.

Customer messages are rendered by :mod:`fleet.notifications.render`; ``render_order_email`` is
kept for callers of the earlier single-template interface.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from fleet.notifications.base import DeliveryFailed
from fleet.notifications.render import render_email, template_for_event

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALES = Path(__file__).resolve().parent / "locales"


def render_order_email(context: dict[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text body, HTML body) for an order status email in the context's locale."""
    return render_email(template_for_event(f"order.{context.get('status') or 'accepted'}"), context)


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
    except smtplib.SMTPRecipientsRefused as err:
        codes = sorted({code for code, _ in err.recipients.values()})
        # 5xx replies are final (unknown mailbox); 4xx ones (greylisting, full mailbox) are worth a retry.
        raise DeliveryFailed(f"SMTP {host}:{port} refused the recipient with {codes}",
                             permanent=all(code >= 500 for code in codes)) from err
    except (OSError, smtplib.SMTPException) as err:
        raise DeliveryFailed(f"SMTP {host}:{port} failed: {type(err).__name__}: {err}") from err
