"""Raster encoder: render a receipt document as a 1-bit image with Pillow.

Used for Star CloudPRNT ``image/png`` jobs (printed pixel for pixel, so the image
is exactly the print width), for the dashboard preview, and by the ESC/POS and
ePOS-Print encoders for lines their code pages cannot print (CJK).

Text is drawn on the same column grid as the printers' own font (48 columns on
576 dots, 32 on 384) with DejaVu Sans Mono when it is installed, else Pillow's
bundled font. DejaVu covers Latin, Greek and Cyrillic. For CJK a font from
``_CJK_FONT_PATHS`` is used when one is installed. Without one, CJK characters
print as the font's empty-box glyph: visibly wrong, but never another character.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import barcode
import qrcode
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

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
from fleet.receipts.layout import char_width, clusters, layout_columns, text_width, wrap

logger = logging.getLogger(__name__)

_DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
_CJK_FONT_PATHS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
# Advance width of DejaVu Sans Mono in em (1233 of 2048 font units).
_MONO_ADVANCE_EM = 0.6021
# A typical printer font A cell is 12 dots wide, giving 48 columns on 576 dots.
_DEFAULT_CELL_DOTS = 12
_BLACK = 0
_WHITE = 255


@dataclass(frozen=True)
class _Fonts:
    regular: ImageFont.FreeTypeFont | ImageFont.ImageFont
    bold: ImageFont.FreeTypeFont | ImageFont.ImageFont
    cjk: ImageFont.FreeTypeFont | None
    synthetic_bold: bool
    cell: int
    line_height: int
    baseline: int


def default_columns(width_px: int) -> int:
    """Return the column count of a printer font A at ``width_px`` dots (576 -> 48, 384 -> 32)."""
    return max(16, width_px // _DEFAULT_CELL_DOTS)


def _truetype(path: Path, size: float) -> ImageFont.FreeTypeFont | None:
    if not path.is_file():
        return None
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as err:
        logger.warning("Cannot load font path=%s: %s", path, err)
        return None


@functools.lru_cache(maxsize=16)
def _load_fonts(cell: int) -> _Fonts:
    size = cell / _MONO_ADVANCE_EM
    mono = _truetype(_DEJAVU_DIR / "DejaVuSansMono.ttf", size)
    bold = _truetype(_DEJAVU_DIR / "DejaVuSansMono-Bold.ttf", size) if mono else None
    regular: ImageFont.FreeTypeFont | ImageFont.ImageFont
    if mono is None:
        logger.info("DejaVu Sans Mono not found in %s; using Pillow's default font", _DEJAVU_DIR)
        regular = ImageFont.load_default(size=size)
    else:
        regular = mono
    cjk = next((font for font in (_truetype(path, cell * 2) for path in _CJK_FONT_PATHS) if font), None)

    ascent, descent = regular.getmetrics() if isinstance(regular, ImageFont.FreeTypeFont) else (cell * 2, 0)
    return _Fonts(
        regular=regular,
        bold=bold or regular,
        cjk=cjk,
        synthetic_bold=bold is None,
        cell=cell,
        line_height=ascent + descent,
        baseline=ascent,
    )


def _render_line(line: str, style: TextStyle, fonts: _Fonts) -> PILImage.Image:
    """Draw one grid line of text in grayscale, scaled for double width and height."""
    width = max(text_width(line), 1) * fonts.cell
    background, foreground = (_BLACK, _WHITE) if style.invert else (_WHITE, _BLACK)
    strip = PILImage.new("L", (width, fonts.line_height), background)
    draw = ImageDraw.Draw(strip)

    column = 0
    for cluster in clusters(line):
        font = fonts.bold if style.bold else fonts.regular
        if char_width(cluster[0]) == 2 and fonts.cjk:
            font = fonts.cjk
        x = column * fonts.cell
        draw.text((x, fonts.baseline), cluster, font=font, fill=foreground, anchor="ls")
        if style.bold and (fonts.synthetic_bold or font is fonts.cjk):
            draw.text((x + 1, fonts.baseline), cluster, font=font, fill=foreground, anchor="ls")
        column += max(char_width(cluster[0]), 1)

    if style.underline:
        thickness = max(1, fonts.cell // 8)
        y = min(fonts.baseline + thickness + 1, fonts.line_height - thickness)
        draw.rectangle((0, y, width - 1, y + thickness - 1), fill=foreground)

    scale_x = 2 if style.double_width else 1
    scale_y = 2 if style.double_height else 1
    if scale_x > 1 or scale_y > 1:
        strip = strip.resize((width * scale_x, fonts.line_height * scale_y), PILImage.Resampling.NEAREST)
    return strip


def _place(strip: PILImage.Image, width_px: int, align: Align) -> PILImage.Image:
    """Put ``strip`` on a white band ``width_px`` wide at ``align``, cropping what overflows."""
    if strip.width > width_px:
        strip = strip.crop((0, 0, width_px, strip.height))
    band = PILImage.new("L", (width_px, strip.height), _WHITE)
    free = width_px - strip.width
    x = {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[align]
    band.paste(strip, (x, 0))
    return band


def _text_bands(
    lines: list[str], style: TextStyle, align: Align, width_px: int, fonts: _Fonts
) -> list[PILImage.Image]:
    return [_place(_render_line(line, style, fonts), width_px, align) for line in lines]


def _fonts_for(width_px: int, columns: int | None) -> tuple[_Fonts, int]:
    columns = columns or default_columns(width_px)
    return _load_fonts(max(width_px // columns, 4)), columns


def render_text_image(
    text: str,
    width_px: int,
    columns: int | None = None,
    style: TextStyle = PLAIN,
    align: Align = Align.LEFT,
) -> PILImage.Image:
    """Render ``text`` word-wrapped to ``columns`` as a 1-bit image ``width_px`` wide."""
    fonts, columns = _fonts_for(width_px, columns)
    line_columns = columns // 2 if style.double_width else columns
    bands = _text_bands(wrap(text, line_columns), style, align, width_px, fonts)
    return _to_one_bit(_stack(bands, width_px))


def fit_image(image: PILImage.Image, width_px: int, align: Align = Align.CENTER) -> PILImage.Image:
    """Scale ``image`` down to at most ``width_px``, dither it to 1 bit and place it at ``align``."""
    picture = image.convert("RGBA")
    flattened = PILImage.new("RGBA", picture.size, (255, 255, 255, 255))
    flattened.alpha_composite(picture)
    gray = flattened.convert("L")

    if gray.width > width_px:
        height = max(1, round(gray.height * width_px / gray.width))
        gray = gray.resize((width_px, height), PILImage.Resampling.LANCZOS)
    dithered = gray.convert("1", dither=PILImage.Dither.FLOYDSTEINBERG).convert("L")
    return _to_one_bit(_place(dithered, width_px, align))


def qr_image(data: str, module_dots: int, width_px: int, align: Align = Align.CENTER) -> PILImage.Image:
    """Draw a QR code (model 2, error correction M, 2-module quiet zone) as a 1-bit band."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    module = max(1, min(module_dots, width_px // len(matrix)))

    side = len(matrix) * module
    picture = PILImage.new("L", (side, side), _WHITE)
    draw = ImageDraw.Draw(picture)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                draw.rectangle(
                    (col * module, row * module, (col + 1) * module - 1, (row + 1) * module - 1), fill=_BLACK
                )
    return _to_one_bit(_place(picture, width_px, align))


def barcode_image(block: Barcode, width_px: int, columns: int | None = None) -> PILImage.Image:
    """Draw a CODE128 or EAN-13 barcode with its text below, as a 1-bit band."""
    name = "code128" if block.symbology is Symbology.CODE128 else "ean13"
    modules = "".join(barcode.get_barcode_class(name)(block.full_data).build())
    quiet = 10
    module = max(1, min(2, width_px // (len(modules) + 2 * quiet)))

    bars = PILImage.new("L", ((len(modules) + 2 * quiet) * module, block.height_dots), _WHITE)
    draw = ImageDraw.Draw(bars)
    for index, bit in enumerate(modules):
        if bit == "1":
            x = (index + quiet) * module
            draw.rectangle((x, 0, x + module - 1, block.height_dots - 1), fill=_BLACK)

    fonts, _ = _fonts_for(width_px, columns)
    label = _render_line(block.full_data, PLAIN, fonts)
    bands = [_place(bars, width_px, block.align), _place(label, width_px, block.align)]
    return _to_one_bit(_stack(bands, width_px))


def _rule_band(width_px: int, fonts: _Fonts, dashed: bool = False) -> PILImage.Image:
    band = PILImage.new("L", (width_px, fonts.line_height), _WHITE)
    draw = ImageDraw.Draw(band)
    y = fonts.line_height // 2
    step = fonts.cell if dashed else width_px
    for x in range(0, width_px, step):
        draw.rectangle(
            (x, y - 1, min(x + step - 1 - (step // 3 if dashed else 0), width_px - 1), y), fill=_BLACK
        )
    return band


def _block_bands(
    block: object, width_px: int, columns: int, fonts: _Fonts, is_last_cut: bool
) -> list[PILImage.Image]:
    if isinstance(block, Text):
        line_columns = columns // 2 if block.style.double_width else columns
        return _text_bands(wrap(block.text, line_columns), block.style, block.align, width_px, fonts)
    if isinstance(block, Columns):
        line_columns = columns // 2 if block.style.double_width else columns
        return _text_bands(layout_columns(block, line_columns), block.style, Align.LEFT, width_px, fonts)
    if isinstance(block, Rule):
        return [_rule_band(width_px, fonts)]
    if isinstance(block, Feed):
        return [PILImage.new("L", (width_px, fonts.line_height * block.lines), _WHITE)] if block.lines else []
    if isinstance(block, Barcode):
        return [barcode_image(block, width_px, columns).convert("L")]
    if isinstance(block, QRCode):
        return [qr_image(block.data, block.module_dots, width_px, block.align).convert("L")]
    if isinstance(block, Image):
        return [fit_image(block.image, width_px, block.align).convert("L")]
    if isinstance(block, Cut):
        # The printer cuts at the end of the job; a cut between copies shows as a dashed line.
        return [] if is_last_cut else [_rule_band(width_px, fonts, dashed=True)]
    if isinstance(block, (DrawerKick, Buzzer)):
        return []
    raise TypeError(f"Unknown receipt block type {type(block).__name__}.")


def _stack(bands: list[PILImage.Image], width_px: int) -> PILImage.Image:
    height = sum(band.height for band in bands)
    page = PILImage.new("L", (width_px, max(height, 1)), _WHITE)
    y = 0
    for band in bands:
        page.paste(band, (0, y))
        y += band.height
    return page


def _to_one_bit(gray: PILImage.Image) -> PILImage.Image:
    return gray.point(lambda value: 255 if value >= 128 else 0).convert("1", dither=PILImage.Dither.NONE)


def render_document(doc: Document, width_px: int, columns: int | None = None) -> PILImage.Image:
    """Render ``doc`` as a 1-bit image exactly ``width_px`` wide.

    ``columns`` is the text grid width; by default it follows a 12-dot printer
    font (48 columns on 576 dots).
    """
    fonts, columns = _fonts_for(width_px, columns)
    last_cut = doc.last_cut_index()
    bands: list[PILImage.Image] = []
    for index, block in enumerate(doc):
        bands += _block_bands(block, width_px, columns, fonts, index == last_cut)
    return _to_one_bit(_stack(bands, width_px))


def encode_png(doc: Document, width_px: int, columns: int | None = None) -> bytes:
    """Render ``doc`` (see :func:`render_document`) and return it as a 1-bit PNG."""
    buffer = io.BytesIO()
    render_document(doc, width_px, columns).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
