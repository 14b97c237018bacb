"""Receipts: one document model built from an order, and encoders for each printer type.

``build_order_receipt`` and ``build_test_receipt`` make a :class:`Document`. The
encoders turn it into what a printer consumes: ``encode_text`` for Star
``text/plain`` jobs, ``encode_png`` for Star ``image/png`` jobs and the dashboard
preview, ``encode_escpos`` for LAN ESC/POS printers, and ``encode_epos_xml`` with
``wrap_print_request`` for Epson Server Direct Print.
"""

from fleet.receipts.builder import (
    CutSetting,
    PrintSettings,
    ReceiptItem,
    ReceiptOrder,
    ReceiptProfile,
    build_order_receipt,
    build_test_receipt,
    format_money,
)
from fleet.receipts.document import Document
from fleet.receipts.encode_epos import encode_epos_xml, wrap_print_request
from fleet.receipts.encode_escpos import encode_escpos
from fleet.receipts.encode_png import encode_png, render_document
from fleet.receipts.encode_text import encode_text, encode_text_payload, star_cut_header, star_job_headers
from fleet.receipts.sanitize import clean_text

__all__ = [
    "CutSetting",
    "Document",
    "PrintSettings",
    "ReceiptItem",
    "ReceiptOrder",
    "ReceiptProfile",
    "build_order_receipt",
    "build_test_receipt",
    "clean_text",
    "encode_epos_xml",
    "encode_escpos",
    "encode_png",
    "encode_text",
    "encode_text_payload",
    "format_money",
    "render_document",
    "star_cut_header",
    "star_job_headers",
    "wrap_print_request",
]
