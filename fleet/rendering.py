"""Turn a job into printable bytes for the media type a printer asked for."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from firmware_profiles.loader import Profile, ProfileError, get_profile, match_cloudprnt
from fleet.models import Job, Order, Printer
from fleet.poll_cache import PrinterSnapshot
from fleet.receipts.builder import (PrintSettings, ReceiptItem, ReceiptOrder, ReceiptProfile, build_order_receipt,
                                    build_test_receipt)
from fleet.receipts.document import Document
from fleet.receipts.encode_escpos import encode_escpos
from fleet.receipts.encode_png import encode_png
from fleet.receipts.encode_text import encode_text_payload, star_job_headers

log = logging.getLogger(__name__)

PNG = "image/png"
TEXT = "text/plain"
ESCPOS = "application/octet-stream"
#: Media types this service renders, in the order offered when a printer accepts several.
PRODUCIBLE = (PNG, TEXT, ESCPOS)

DEFAULT_PROFILE = {"cloudprnt": "star-mc-print3", "goodcom": "goodcom-gt6000", "epson_sdp": "generic-escpos-80mm",
                   "device_mqtt": "generic-escpos-80mm"}


class UnsupportedMediaType(Exception):
    """The printer asked for a media type this service cannot render."""


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def printer_profile(printer: Printer) -> Profile:
    """Return the printer's model profile: set by an operator, matched from ClientType, or the protocol default."""
    if printer.profile:
        try:
            return get_profile(printer.profile)
        except ProfileError:
            log.warning("printer profile missing printer=%s profile=%s; using the protocol default",
                        printer.id, printer.profile)
    client_type = (printer.client_info or {}).get("ClientType")
    if client_type:
        matched = match_cloudprnt(str(client_type))
        if matched is not None:
            return matched
    return get_profile(DEFAULT_PROFILE.get(printer.protocol, "generic-escpos-80mm"))


def receipt_profile(printer: Printer) -> ReceiptProfile:
    """Receipt geometry for ``printer``; a CloudPRNT PageInfo answer overrides the profile's width."""
    profile = printer_profile(printer)
    width = profile.print_width_dots
    page = (printer.client_info or {}).get("PageInfo")
    if isinstance(page, dict):
        try:
            dots = int(float(page["printWidth"]) * float(page["horizontalResolution"]))
            if 128 <= dots <= 2400:
                width = dots
        except (KeyError, TypeError, ValueError):
            log.debug("PageInfo not usable printer=%s page=%r", printer.id, page)
    columns = max(16, round(profile.columns * width / profile.print_width_dots))
    return ReceiptProfile(
        name=profile.name, paper_width_mm=profile.paper_width_mm, print_width_dots=width, columns=columns,
        escpos_profile=profile.escpos_profile, codepage=profile.codepages[0] if profile.codepages else None,
        unicode=profile.unicode_text,
    )


def offered_media_types(printer: Printer | PrinterSnapshot) -> list[str]:
    """Media types to offer ``printer``: ours, narrowed to what it reported in ``Encodings``."""
    encodings = (printer.client_info or {}).get("Encodings")
    emulation = (printer.settings or {}).get("emulation")
    ours = [ESCPOS, PNG, TEXT] if emulation == "escpos" else [PNG, TEXT]
    if not encodings:
        return ours
    accepted = {part.strip().split(";")[0] for part in str(encodings).split(";")}
    narrowed = [media for media in ours if media in accepted]
    return narrowed or ours


def print_settings(printer: Printer, copies: int = 1) -> PrintSettings:
    settings: dict[str, Any] = printer.settings or {}
    return PrintSettings(
        copies=copies, cut=str(settings.get("cut", "partial")), buzzer=bool(settings.get("buzzer", False)),
        header=settings.get("header"), footer=settings.get("footer"),
        require_decision=bool(settings.get("require_decision", True)),
    )


def receipt_order(order: Order, status_url: str | None) -> ReceiptOrder:
    customer = order.customer or {}
    return ReceiptOrder(
        reference=order.external_id or str(order.id), created_at=order.created_at,
        customer_name=str(customer.get("name", "")), currency=order.currency, total=Decimal(order.total),
        items=tuple(ReceiptItem(str(item["name"]), int(item["quantity"]), Decimal(str(item["unit_price"])),
                                item.get("notes")) for item in order.items),
        order_type=order.order_type, requested_time=order.requested_time, customer_phone=customer.get("phone"),
        notes=order.notes, status_url=status_url,
    )


def job_document(job: Job, base_url: str | None) -> Document:
    """Build the receipt of ``job`` for its printer, ``job.copies`` times over."""
    printer = job.printer
    profile = receipt_profile(printer)
    settings = print_settings(printer, max(1, job.copies))
    if job.order is not None:
        status_url = f"{base_url}/o/{job.order.public_id}" if base_url else None
        return build_order_receipt(receipt_order(job.order, status_url), settings, profile)
    return build_test_receipt(profile, printer_name=printer.name, printed_at=job.created_at,
                              printer_id=str(printer.id), settings=settings)


def render(document: Document, media_type: str, profile: ReceiptProfile) -> Rendered:
    """Encode ``document`` as ``media_type``; raise UnsupportedMediaType for anything else."""
    if media_type == PNG:
        return Rendered(encode_png(document, profile.print_width_dots, profile.columns), PNG, star_job_headers(document))
    if media_type == TEXT:
        body, content_type = encode_text_payload(document, profile)
        return Rendered(body, content_type, star_job_headers(document))
    if media_type == ESCPOS:
        return Rendered(encode_escpos(document, profile), ESCPOS)
    raise UnsupportedMediaType(media_type)
