"""Receipt document model: a printer-independent list of blocks.

A :class:`Document` is what the builder makes from an order and what every
encoder (plain text, ESC/POS, PNG, ePOS-Print XML) consumes. Blocks are frozen
dataclasses and check their own values, so an encoder can trust them. Text in a
block is one line or paragraph without control characters: build it with
:func:`fleet.receipts.sanitize.clean_text`, because the model raises
``ValueError`` on text that still contains control or format characters.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from PIL import Image as PILImage

from fleet.receipts.sanitize import has_removed_characters


class Align(enum.StrEnum):
    """Horizontal alignment of a block on the paper."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class CutMode(enum.StrEnum):
    """Paper cut: full, or partial (one point left uncut)."""

    FULL = "full"
    PARTIAL = "partial"


class Symbology(enum.StrEnum):
    """One-dimensional barcode types the encoders support."""

    CODE128 = "CODE128"
    EAN13 = "EAN13"


def _check_text(value: str, what: str) -> None:
    if has_removed_characters(value):
        raise ValueError(
            f"{what} contains control or format characters: {value!r}; "
            "pass it through fleet.receipts.sanitize.clean_text first."
        )


@dataclass(frozen=True)
class TextStyle:
    """Character style. Double width halves the number of columns on a line."""

    bold: bool = False
    underline: bool = False
    double_width: bool = False
    double_height: bool = False
    invert: bool = False


PLAIN = TextStyle()


@dataclass(frozen=True)
class Text:
    """A paragraph of text, wrapped at word boundaries by the encoder."""

    text: str
    style: TextStyle = PLAIN
    align: Align = Align.LEFT

    def __post_init__(self) -> None:
        _check_text(self.text, "Text")


@dataclass(frozen=True)
class Columns:
    """Left and right text on one line, joined by ``fill`` ("2 x Pizza ....... 12.00").

    ``fill`` is one ASCII character; a space gives plain padding.
    """

    left: str
    right: str
    fill: str = "."
    style: TextStyle = PLAIN

    def __post_init__(self) -> None:
        _check_text(self.left, "Columns.left")
        _check_text(self.right, "Columns.right")
        if len(self.fill) != 1 or not (" " <= self.fill <= "~"):
            raise ValueError(f"Columns.fill must be one printable ASCII character, got {self.fill!r}.")


@dataclass(frozen=True)
class Rule:
    """A separator line across the full width, drawn with ``char`` in text encoders."""

    char: str = "-"

    def __post_init__(self) -> None:
        if len(self.char) != 1 or not ("!" <= self.char <= "~"):
            raise ValueError(f"Rule.char must be one printable ASCII character, got {self.char!r}.")


@dataclass(frozen=True)
class Feed:
    """Blank lines fed before the next block (0-255)."""

    lines: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.lines <= 255:
            raise ValueError(f"Feed.lines must be between 0 and 255, got {self.lines}.")


_EAN13_DATA = re.compile(r"[0-9]{12,13}")


def ean13_check_digit(digits: str) -> str:
    """Return the EAN-13 check digit for the first 12 ``digits``."""
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(digits[:12]))
    return str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Barcode:
    """A one-dimensional barcode, with its human-readable text printed below.

    CODE128 data is printable ASCII (0x20-0x7E), at most 80 characters; the
    encoders add the code-set prefix the printers need. EAN13 data is 12 digits
    (the check digit is computed) or 13 digits with a correct check digit.
    """

    data: str
    symbology: Symbology = Symbology.CODE128
    align: Align = Align.CENTER
    height_dots: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.height_dots <= 255:
            raise ValueError(f"Barcode.height_dots must be between 1 and 255, got {self.height_dots}.")
        if self.symbology is Symbology.EAN13:
            self._check_ean13()
        elif not (0 < len(self.data) <= 80 and all(" " <= char <= "~" for char in self.data)):
            raise ValueError(f"CODE128 data must be 1-80 printable ASCII characters, got {self.data!r}.")

    def _check_ean13(self) -> None:
        if not _EAN13_DATA.fullmatch(self.data):
            raise ValueError(f"EAN13 data must be 12 or 13 digits, got {self.data!r}.")
        if len(self.data) == 13 and self.data[12] != ean13_check_digit(self.data):
            raise ValueError(
                f"EAN13 check digit of {self.data!r} is wrong; expected {ean13_check_digit(self.data)}."
            )

    @property
    def full_data(self) -> str:
        """Data including the EAN-13 check digit; CODE128 data unchanged."""
        if self.symbology is Symbology.EAN13 and len(self.data) == 12:
            return self.data + ean13_check_digit(self.data)
        return self.data


@dataclass(frozen=True)
class QRCode:
    """A QR code (model 2, error correction M). ``module_dots`` is the module size, 1-16 dots."""

    data: str
    module_dots: int = 6
    align: Align = Align.CENTER

    def __post_init__(self) -> None:
        _check_text(self.data, "QRCode.data")
        if not self.data or len(self.data.encode()) > 700:
            raise ValueError(f"QRCode.data must be 1-700 bytes of UTF-8, got {len(self.data.encode())}.")
        if not 1 <= self.module_dots <= 16:
            raise ValueError(f"QRCode.module_dots must be between 1 and 16, got {self.module_dots}.")


@dataclass(frozen=True)
class Image:
    """A picture (logo, signature). Encoders scale it down to the print width and dither it."""

    image: PILImage.Image = field(compare=False)
    align: Align = Align.CENTER


@dataclass(frozen=True)
class Cut:
    """Feed to the cutter (when ``feed``) and cut the paper."""

    mode: CutMode = CutMode.PARTIAL
    feed: bool = True


@dataclass(frozen=True)
class DrawerKick:
    """Pulse the cash drawer connector: pin 2 (drawer 1) or pin 5 (drawer 2)."""

    pin: int = 2

    def __post_init__(self) -> None:
        if self.pin not in (2, 5):
            raise ValueError(f"DrawerKick.pin must be 2 or 5, got {self.pin}.")


@dataclass(frozen=True)
class Buzzer:
    """Sound the printer's buzzer ``times`` times (1-9)."""

    times: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.times <= 9:
            raise ValueError(f"Buzzer.times must be between 1 and 9, got {self.times}.")


Block: TypeAlias = Text | Columns | Rule | Feed | Barcode | QRCode | Image | Cut | DrawerKick | Buzzer


@dataclass(frozen=True)
class Document:
    """An ordered, immutable sequence of blocks."""

    blocks: tuple[Block, ...] = ()

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def last_cut_index(self) -> int | None:
        """Return the index of the Cut that ends the document, or None.

        Feed, drawer and buzzer blocks after that Cut are ignored.
        """
        for index in range(len(self.blocks) - 1, -1, -1):
            block = self.blocks[index]
            if isinstance(block, Cut):
                return index
            if not isinstance(block, (DrawerKick, Buzzer, Feed)):
                return None
        return None

    def last_cut(self) -> Cut | None:
        """Return the Cut that ends the document (see :meth:`last_cut_index`), or None."""
        index = self.last_cut_index()
        if index is None:
            return None
        block = self.blocks[index]
        assert isinstance(block, Cut)
        return block
