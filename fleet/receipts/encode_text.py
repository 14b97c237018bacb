"""Plain-text encoder for Star CloudPRNT ``text/plain`` jobs.

A ``text/plain`` job is printed in the printer's own font and code page, and the
printer cuts after it. Styles, barcodes and images cannot be expressed, so this
encoder lays the document out on the column grid (alignment by padding, columns
filled with dots or spaces, rules drawn with their character), prints barcode
and QR data as readable text and leaves images out. Cut, buzzer and cash drawer
travel as CloudPRNT response headers: see :func:`star_job_headers`.
"""

from __future__ import annotations

import codecs

from fleet.receipts.builder import ReceiptProfile
from fleet.receipts.document import (
    Barcode,
    Buzzer,
    Columns,
    Cut,
    CutMode,
    Document,
    DrawerKick,
    Feed,
    Image,
    QRCode,
    Rule,
    Text,
)
from fleet.receipts.layout import align_line, layout_columns, wrap

# Blank lines printed where a cut falls in the middle of a document (between
# copies), because a text/plain job can only cut at its end.
_MID_CUT_FEED = 4


def _block_lines(block: object, columns: int, is_last_cut: bool) -> list[str]:
    if isinstance(block, Text):
        return [align_line(line, columns, block.align) for line in wrap(block.text, columns)]
    if isinstance(block, Columns):
        return layout_columns(block, columns)
    if isinstance(block, Rule):
        return [block.char * columns]
    if isinstance(block, Feed):
        return [""] * block.lines
    if isinstance(block, Barcode):
        return [align_line(line, columns, block.align) for line in wrap(block.full_data, columns)]
    if isinstance(block, QRCode):
        return [align_line(line, columns, block.align) for line in wrap(block.data, columns)]
    if isinstance(block, Cut):
        return [] if is_last_cut else [""] * _MID_CUT_FEED
    if isinstance(block, (Image, DrawerKick, Buzzer)):
        return []
    raise TypeError(f"Unknown receipt block type {type(block).__name__}.")


def encode_lines(doc: Document, columns: int) -> list[str]:
    """Lay ``doc`` out as lines of at most ``columns`` display columns."""
    last_cut = doc.last_cut_index()
    lines: list[str] = []
    for index, block in enumerate(doc):
        lines += _block_lines(block, columns, index == last_cut)
    return lines


def encode_text(doc: Document, columns: int) -> str:
    """Render ``doc`` as plain text, ``columns`` characters wide, one ``\\n`` after each line.

    Wide (CJK) characters count as two columns. The result is a ``str``: the
    caller encodes it in the code page or UTF-8 the printer accepts.
    """
    return "".join(f"{line}\n" for line in encode_lines(doc, columns))


def star_cut_header(doc: Document) -> str:
    """Return the ``X-Star-Cut`` header value for ``doc``.

    "full; feed=true" or "partial; feed=true" (feed=false for a Cut without
    feed) when the document ends with a cut, else "none".
    """
    cut = doc.last_cut()
    if cut is None:
        return "none"
    mode = "full" if cut.mode is CutMode.FULL else "partial"
    return f"{mode}; feed={'true' if cut.feed else 'false'}"


def star_job_headers(doc: Document) -> dict[str, str]:
    """Return the CloudPRNT response headers for a ``text/plain`` or ``image/png`` job.

    Always ``X-Star-Cut``. ``X-Star-Buzzerstartpattern`` when a Buzzer block comes
    before the first printed block and ``X-Star-Buzzerendpattern`` for one
    after it; ``X-Star-CashDrawer`` ("start" or "end") likewise for a DrawerKick.
    Buzzer patterns are 1-3 on Star printers, so ``times`` is capped at 3.

    NOTE: how Star firmware plays patterns 1-3 is not documented here, so the
    mapping from Buzzer.times to a pattern number is a guess.
    """
    headers = {"X-Star-Cut": star_cut_header(doc)}
    printed_yet = False
    for block in doc:
        if isinstance(block, Buzzer):
            key = "X-Star-Buzzerendpattern" if printed_yet else "X-Star-Buzzerstartpattern"
            headers[key] = str(min(block.times, 3))
        elif isinstance(block, DrawerKick):
            headers["X-Star-CashDrawer"] = "end" if printed_yet else "start"
        elif not isinstance(block, (Cut, Feed)):
            printed_yet = True
    return headers


def encode_text_payload(doc: Document, profile: ReceiptProfile) -> tuple[bytes, str]:
    """Encode ``doc`` as a ``text/plain`` job body for ``profile``; return (body, content type).

    With ``profile.unicode`` the body is UTF-8 and the type carries
    ``charset=utf-8``. Otherwise the body is in ``profile.codepage`` (CP437, the
    power-on code page of most printers, when unset) and characters outside it
    become "?". Star HI01X firmware 1.1 rejects a ``text/plain`` type with
    parameters, so the charset parameter is only sent with ``unicode``.
    """
    text = encode_text(doc, profile.columns)
    if profile.unicode:
        return text.encode("utf-8"), "text/plain; charset=utf-8"

    codec = _python_codec(profile.codepage or "CP437")
    return text.encode(codec, errors="replace"), "text/plain"


def _python_codec(codepage: str) -> str:
    """Map a python-escpos code page name ("CP858", "WPC1252", "ISO_8859-7") to a Python codec."""
    name = codepage.lower().replace("wpc", "cp").replace("iso_", "iso-")
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(
            f"Code page {codepage!r} has no Python codec; use a name such as CP437, CP858 or WPC1252."
        ) from None
