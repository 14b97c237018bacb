"""ESC/POS encoder built on python-escpos 3.1; the only module that imports escpos.

Each job starts with ``ESC @`` (INIT). It resets the code page and the text
styles that an earlier job or another client may have left, so the code page
switches and styles sent here start from a known state. Styles are set with
``set()`` only when they change.

Text encoding:

* ``profile.codepage`` set (e.g. "CP858"): one fixed code page, selected with
  ``ESC t n`` after INIT. Output is deterministic; characters outside the code
  page print as "?".
* ``profile.codepage`` None: python-escpos's magic encoder switches code pages
  per run of characters (Cyrillic through CP866, Greek through CP737, ...).

Lines holding CJK or other wide characters are printed as raster images rendered
by :mod:`fleet.receipts.encode_png`, because python-escpos sends such text as
raw GB18030 bytes, which print as garbage on printers without GB18030 firmware.

The buzzer uses ``ESC B n t`` (python-escpos ``buzzer()``), the beep command of
many ESC/POS-compatible printers with a built-in buzzer. Epson's own beeper
command ``ESC ( A`` is not sent, so Epson models may stay silent.

NOTE: python-escpos 3.1 writes "Using hardware barcode renderer" with print()
for every barcode, and a media-width warning for every image on profiles
without a known width ("default", "simple"). Both go to stdout, not to logging.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage

from fleet.receipts.builder import ReceiptProfile
from fleet.receipts.document import (
    PLAIN,
    Align,
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
    Symbology,
    Text,
    TextStyle,
)
from fleet.receipts.encode_png import barcode_image, fit_image, qr_image, render_text_image
from fleet.receipts.layout import has_wide_characters, layout_columns, wrap

if TYPE_CHECKING:
    from escpos.printer import Dummy

logger = logging.getLogger(__name__)

_import_lock = threading.Lock()


def prepare_escpos_cache() -> None:
    """Point python-escpos at an existing folder for its capabilities pickle, unless the environment names one.

    Without ``ESCPOS_CAPABILITIES_PICKLE_DIR`` python-escpos creates a new temporary directory on every
    import and leaves it behind; with a folder that does not exist, its import fails.
    """
    if not os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR"):
        os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = _capabilities_cache_dir()


def _capabilities_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "printfleet" / "escpos"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        fallback = tempfile.mkdtemp(prefix="printfleet-escpos-")
        logger.warning("Cannot create %s (%s); python-escpos caches in %s", path, err, fallback)
        return fallback
    return str(path)


@functools.cache
def _escpos() -> dict[str, Any]:
    """Import python-escpos once, without its import-time side effects.

    ``escpos.capabilities`` calls ``logging.basicConfig()`` on import, which adds
    a handler to the root logger when it has none. Handlers added during the
    import are removed again, so logging stays as the application configured it.
    """
    with _import_lock:
        prepare_escpos_cache()
        root = logging.getLogger()
        handlers_before = list(root.handlers)

        from escpos import constants
        from escpos.capabilities import get_profile
        from escpos.printer import Dummy

        for handler in list(root.handlers):
            if handler not in handlers_before:
                root.removeHandler(handler)
    return {"Dummy": Dummy, "get_profile": get_profile, "QR_ECLEVEL_M": constants.QR_ECLEVEL_M}


def _max_image_width(printer: Dummy, profile: ReceiptProfile) -> int:
    """Return the widest raster image the printer takes: the smaller of both profiles' widths."""
    media_pixels = printer.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    try:
        return min(profile.print_width_dots, int(media_pixels))
    except (TypeError, ValueError):
        return profile.print_width_dots


class _Writer:
    """Writes document blocks to a python-escpos Dummy printer."""

    def __init__(self, printer: Dummy, profile: ReceiptProfile) -> None:
        self.printer = printer
        self.profile = profile
        self.image_width = _max_image_width(printer, profile)
        # Style and alignment in effect on the printer; INIT leaves plain, left-aligned text.
        self.style = PLAIN
        self.align = Align.LEFT

    def write_style(self, style: TextStyle, align: Align) -> None:
        if (style, align) == (self.style, self.align):
            return
        self.style, self.align = style, align
        self.printer.set(
            align=align.value,
            bold=style.bold,
            underline=1 if style.underline else 0,
            invert=style.invert,
            normal_textsize=not (style.double_width or style.double_height),
            double_width=style.double_width,
            double_height=style.double_height,
        )

    def write_lines(self, lines: list[str], style: TextStyle, align: Align) -> None:
        self.write_style(style, align)
        for line in lines:
            if has_wide_characters(line):
                self.write_image(
                    render_text_image(line, self.image_width, self._image_columns(), style, align)
                )
                continue
            self.write_style(style, align)
            self.printer.textln(line)

    def _image_columns(self) -> int:
        # Keep the character cell of the rendered line equal to the printer font's cell.
        return max(1, round(self.profile.columns * self.image_width / self.profile.print_width_dots))

    def write_align(self, align: Align) -> None:
        """Align a barcode, QR code or image; text styles do not apply to them."""
        self.write_style(PLAIN, align)

    def write_image(self, picture: PILImage.Image) -> None:
        # Images are rendered at the full print width with their alignment applied.
        self.write_align(Align.LEFT)
        self.printer.image(picture, impl="bitImageRaster")

    def line_columns(self, style: TextStyle) -> int:
        return self.profile.columns // 2 if style.double_width else self.profile.columns

    def write_barcode(self, block: Barcode) -> None:
        supported = self.printer.profile.supports("barcodeB")
        if not supported:
            self.write_image(barcode_image(block, self.image_width))
            return

        self.write_align(block.align)
        if block.symbology is Symbology.CODE128:
            # Code set B covers printable ASCII; "{" starts a function code, so it is doubled.
            data = "{B" + block.data.replace("{", "{{")
            self.printer.barcode(
                data, "CODE128", height=block.height_dots, width=2, function_type="B", align_ct=False
            )
        else:
            self.printer.barcode(
                block.full_data, "EAN13", height=block.height_dots, width=2, function_type="B", align_ct=False
            )

    def write_qr(self, block: QRCode) -> None:
        if not self.printer.profile.supports("qrCode"):
            self.write_image(qr_image(block.data, block.module_dots, self.image_width, block.align))
            return

        # Native QR (GS ( k) ignores python-escpos's center flag, but follows ESC a.
        self.write_align(block.align)
        self.printer.qr(block.data, ec=_escpos()["QR_ECLEVEL_M"], size=block.module_dots, native=True)

    def write_block(self, block: object) -> None:
        if isinstance(block, Text):
            self.write_lines(wrap(block.text, self.line_columns(block.style)), block.style, block.align)
        elif isinstance(block, Columns):
            self.write_lines(layout_columns(block, self.line_columns(block.style)), block.style, Align.LEFT)
        elif isinstance(block, Rule):
            self.write_style(PLAIN, Align.LEFT)
            self.printer.textln(block.char * self.profile.columns)
        elif isinstance(block, Feed):
            self.printer.ln(block.lines)
        elif isinstance(block, Barcode):
            self.write_barcode(block)
        elif isinstance(block, QRCode):
            self.write_qr(block)
        elif isinstance(block, Image):
            self.write_image(fit_image(block.image, self.image_width, block.align))
        elif isinstance(block, Cut):
            self.write_cut(block)
        elif isinstance(block, DrawerKick):
            self.printer.cashdraw(block.pin)
        elif isinstance(block, Buzzer):
            self.printer.buzzer(times=block.times, duration=2)
        else:
            raise TypeError(f"Unknown receipt block type {type(block).__name__}.")

    def write_cut(self, block: Cut) -> None:
        self.printer.cut(mode="FULL" if block.mode is CutMode.FULL else "PART", feed=block.feed)


def _new_printer(profile: ReceiptProfile) -> Dummy:
    library = _escpos()
    try:
        library["get_profile"](profile.escpos_profile)
    except Exception as err:  # python-escpos raises its own NotSupported for unknown names
        raise ValueError(
            f"Profile {profile.name!r}: unknown python-escpos profile {profile.escpos_profile!r}."
        ) from err

    if profile.codepage is None:
        return library["Dummy"](profile=profile.escpos_profile)

    try:
        return library["Dummy"](
            profile=profile.escpos_profile,
            magic_encode_args={"encoding": profile.codepage, "disabled": True},
        )
    except ValueError as err:
        raise ValueError(
            f"Profile {profile.name!r}: code page {profile.codepage!r} is not available in "
            f"python-escpos profile {profile.escpos_profile!r}: {err}"
        ) from err


def encode_escpos(doc: Document, profile: ReceiptProfile) -> bytes:
    """Encode ``doc`` as ESC/POS bytes for a printer described by ``profile``.

    Raises:
        ValueError: the python-escpos profile is unknown or lacks ``profile.codepage``.
    """
    printer = _new_printer(profile)
    printer.hw("INIT")
    if profile.codepage is not None:
        # INIT resets the printer to code page 0; select the fixed one explicitly.
        printer.magic.encoding = None
        printer.magic.force_encoding(printer.magic.encoder.get_encoding_name(profile.codepage))

    writer = _Writer(printer, profile)
    for block in doc:
        writer.write_block(block)

    output: bytes = printer.output
    logger.debug("Encoded ESC/POS profile=%s blocks=%d bytes=%d", profile.name, len(doc), len(output))
    return output
