"""ePOS-Print XML encoder for Epson printers (Server Direct Print, ePOS-Print).

:func:`encode_epos_xml` turns a document into one ``<epos-print>`` element;
:func:`wrap_print_request` puts one or more of them into the ``PrintRequestInfo``
document that Server Direct Print expects in reply to a ``GetRequest``. It is a
plain XML document, never a SOAP envelope: printers discard an envelope without
reporting a result.

Every ``<text>`` element carries its alignment and all style attributes, because
ePOS-Print text attributes stay in effect until changed and a block must not
inherit the previous block's style. Lines with CJK or other wide characters are
sent as raster images rendered by :mod:`fleet.receipts.encode_png`, so they print
the same way as in the ESC/POS encoder whatever fonts the printer has.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from PIL import ImageChops

from fleet.receipts.document import (
    PLAIN,
    Align,
    Barcode,
    Buzzer,
    Columns,
    Cut,
    Document,
    DrawerKick,
    Feed,
    Image,
    QRCode,
    Rule,
    Symbology,
    Text,
    TextStyle,
)
from fleet.receipts.encode_png import fit_image, render_text_image
from fleet.receipts.layout import has_wide_characters, layout_columns, wrap

EPOS_PRINT_NAMESPACE = "http://www.epson-pos.com/schemas/2011/03/epos-print"

# Server Direct Print Version 2.00 print job ids: 1-30 characters of this set.
_PRINT_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,30}")
_TEXT_ENTITIES = {'"': "&quot;", "'": "&apos;", "\n": "&#10;"}


def _xml_text(text: str) -> str:
    """Escape element content; line feeds become ``&#10;`` as in Epson's examples."""
    return escape(text, _TEXT_ENTITIES)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _text_element(line: str, style: TextStyle, align: Align) -> str:
    attributes = (
        f'align="{align.value}" em="{_flag(style.bold)}" ul="{_flag(style.underline)}" '
        f'dw="{_flag(style.double_width)}" dh="{_flag(style.double_height)}" '
        f'reverse="{_flag(style.invert)}"'
    )
    return f"<text {attributes}>{_xml_text(line + chr(10))}</text>"


def _image_element(picture: PILImage.Image) -> str:
    """Encode a 1-bit image as an ePOS-Print raster: rows MSB first, 1 = printed dot."""
    # Pillow packs mode "1" with 1 = white; ePOS-Print wants 1 = black.
    raster = ImageChops.invert(picture.convert("L")).convert("1").tobytes()
    data = base64.b64encode(raster).decode("ascii")
    return (
        f'<image width="{picture.width}" height="{picture.height}" color="color_1" mode="mono">{data}</image>'
    )


class _Encoder:
    def __init__(self, columns: int, width_px: int) -> None:
        self.columns = columns
        self.width_px = width_px
        self.parts: list[str] = []

    def lines(self, lines: list[str], style: TextStyle, align: Align) -> None:
        for line in lines:
            if has_wide_characters(line):
                self.parts.append(
                    _image_element(render_text_image(line, self.width_px, self.columns, style, align))
                )
            else:
                self.parts.append(_text_element(line, style, align))

    def line_columns(self, style: TextStyle) -> int:
        return self.columns // 2 if style.double_width else self.columns

    def barcode(self, block: Barcode) -> None:
        if block.symbology is Symbology.CODE128:
            # ePOS-Print code128 data starts with a code set selector and "{" is written "{{".
            # NOTE: taken from the ESC/POS GS k rules; not yet checked on an Epson printer.
            kind, data = "code128", "{B" + block.data.replace("{", "{{")
        else:
            kind, data = "ean13", block.full_data
        self.parts.append(f'<text align="{block.align.value}"/>')
        self.parts.append(
            f'<barcode type="{kind}" hri="below" font="font_a" width="2" height="{block.height_dots}">'
            f"{_xml_text(data)}</barcode>"
        )
        self.parts.append("<feed/>")

    def qr(self, block: QRCode) -> None:
        # ePOS-Print accepts QR module widths of 3-16 dots.
        module = min(max(block.module_dots, 3), 16)
        self.parts.append(f'<text align="{block.align.value}"/>')
        self.parts.append(
            f'<symbol type="qrcode_model_2" level="level_m" width="{module}" height="0" size="0">'
            f"{_xml_text(block.data)}</symbol>"
        )
        self.parts.append("<feed/>")

    def block(self, block: object) -> None:
        if isinstance(block, Text):
            self.lines(wrap(block.text, self.line_columns(block.style)), block.style, block.align)
        elif isinstance(block, Columns):
            self.lines(layout_columns(block, self.line_columns(block.style)), block.style, Align.LEFT)
        elif isinstance(block, Rule):
            self.lines([block.char * self.columns], PLAIN, Align.LEFT)
        elif isinstance(block, Feed):
            if block.lines:
                self.parts.append(f'<feed line="{block.lines}"/>')
        elif isinstance(block, Barcode):
            self.barcode(block)
        elif isinstance(block, QRCode):
            self.qr(block)
        elif isinstance(block, Image):
            self.parts.append('<text align="left"/>')
            self.parts.append(_image_element(fit_image(block.image, self.width_px, block.align)))
        elif isinstance(block, Cut):
            # NOTE: full and partial cut both map to "feed"/"no_feed"; the
            # fullcut variants exist only in newer ePOS-Print versions.
            self.parts.append(f'<cut type="{"feed" if block.feed else "no_feed"}"/>')
        elif isinstance(block, DrawerKick):
            drawer = "drawer_1" if block.pin == 2 else "drawer_2"
            self.parts.append(f'<pulse drawer="{drawer}" time="pulse_100"/>')
        elif isinstance(block, Buzzer):
            self.parts.append(f'<sound pattern="pattern_a" repeat="{block.times}"/>')
        else:
            raise TypeError(f"Unknown receipt block type {type(block).__name__}.")


def encode_epos_xml(doc: Document, columns: int = 48, width_px: int = 576) -> str:
    """Encode ``doc`` as an ``<epos-print>`` element (no XML declaration).

    ``columns`` is the font A line width used for wrapping and column layout;
    ``width_px`` the print width for images and CJK lines rendered as images.
    """
    encoder = _Encoder(columns, width_px)
    for block in doc:
        encoder.block(block)
    return f'<epos-print xmlns="{EPOS_PRINT_NAMESPACE}">{"".join(encoder.parts)}</epos-print>'


def _check_epos_print(epos_xml: str, printjobid: str) -> None:
    try:
        root = ElementTree.fromstring(epos_xml)
    except ElementTree.ParseError as err:
        raise ValueError(f"Print job {printjobid}: ePOS-Print XML is not well-formed: {err}") from err
    if root.tag != f"{{{EPOS_PRINT_NAMESPACE}}}epos-print":
        raise ValueError(
            f"Print job {printjobid}: expected an <epos-print> element in namespace "
            f"{EPOS_PRINT_NAMESPACE}, got {root.tag!r}; a SOAP envelope is not accepted."
        )


def wrap_print_request(blocks: list[tuple[str, str, int, str]]) -> str:
    """Build a Server Direct Print ``PrintRequestInfo Version="2.00"`` document.

    ``blocks`` contains one ``(printjobid, devid, timeout_ms, epos_xml)`` tuple per
    job; each becomes an ``<ePOSPrint>`` element. ``epos_xml`` is the output of
    :func:`encode_epos_xml`.

    Raises:
        ValueError: a print job id is not 1-30 characters of ``[A-Za-z0-9_.-]``,
            a timeout is not positive, a device id is empty, or ``epos_xml`` is
            not one well-formed ``<epos-print>`` element.
    """
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<PrintRequestInfo Version="2.00">']
    for printjobid, devid, timeout_ms, epos_xml in blocks:
        if not _PRINT_JOB_ID.fullmatch(printjobid):
            raise ValueError(
                f"Print job id {printjobid!r} is invalid; "
                "use 1-30 characters of A-Z, a-z, 0-9, '_', '.', '-'."
            )
        if not devid:
            raise ValueError(f"Print job {printjobid}: device id is empty; use e.g. 'local_printer'.")
        if timeout_ms <= 0:
            raise ValueError(
                f"Print job {printjobid}: timeout must be positive milliseconds, got {timeout_ms}."
            )
        _check_epos_print(epos_xml, printjobid)

        parts.append(
            "<ePOSPrint><Parameter>"
            f"<devid>{_xml_text(devid)}</devid><timeout>{int(timeout_ms)}</timeout>"
            f"<printjobid>{printjobid}</printjobid>"
            f"</Parameter><PrintData>{epos_xml}</PrintData></ePOSPrint>"
        )
    parts.append("</PrintRequestInfo>")
    return "\n".join(parts)
