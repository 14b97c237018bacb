"""Character-grid layout shared by the receipt encoders.

Receipt printers print text on a fixed grid of columns (48 for font A on 80 mm
paper, 32 on 58 mm). East Asian wide and fullwidth characters take two columns
and combining marks take none, so widths here are display widths in columns,
not ``len()``. Every encoder wraps and pads through these helpers, which is what
keeps the text, ESC/POS, PNG and ePOS-Print renderings of one document in step.
"""

from __future__ import annotations

import functools
import unicodedata

from fleet.receipts.document import Align, Columns

# Minimum number of columns between the left and right text of a Columns block.
_MIN_GAP = 1


@functools.lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """Return the number of columns ``char`` takes on a receipt printer (0, 1 or 2)."""
    if char.isascii():
        return 1
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me"):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    return 1


def text_width(text: str) -> int:
    """Return the display width of ``text`` in columns."""
    if text.isascii():
        return len(text)
    return sum(char_width(char) for char in text)


def has_wide_characters(text: str) -> bool:
    """Return True when ``text`` contains a two-column (CJK, fullwidth) character."""
    return any(char_width(char) == 2 for char in text)


def clusters(text: str) -> list[str]:
    """Split ``text`` into base characters, each with its following combining marks."""
    result: list[str] = []
    for char in text:
        if result and char_width(char) == 0:
            result[-1] += char
        else:
            result.append(char)
    return result


def _split_word(word: str, width: int) -> list[str]:
    """Cut a word longer than ``width`` into pieces that fit."""
    pieces: list[str] = []
    current = ""
    for cluster in clusters(word):
        if current and text_width(current + cluster) > width:
            pieces.append(current)
            current = ""
        current += cluster
    if current:
        pieces.append(current)
    return pieces


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap ``text`` into lines of at most ``width`` columns.

    Words longer than a line are cut. Spaces at line breaks are dropped. An
    empty ``text`` gives one empty line, so a blank Text block still feeds one
    line. A character wider than ``width`` (a CJK character with ``width=1``)
    is the only case where a line exceeds ``width``.

    Raises:
        ValueError: ``width`` is less than 1.
    """
    if width < 1:
        raise ValueError(f"Line width must be at least 1 column, got {width}.")

    lines: list[str] = []
    current: str | None = None
    for word in text.split(" "):
        candidate = word if current is None else f"{current} {word}"
        if text_width(candidate) <= width:
            current = candidate
            continue

        if current is not None:
            lines.append(current)
        pieces = _split_word(word, width) or [""]
        lines.extend(pieces[:-1])
        current = pieces[-1] or None

    lines.append(current or "")
    return [line.rstrip() for line in lines]


def align_line(line: str, width: int, align: Align) -> str:
    """Pad ``line`` with spaces on the left so it sits at ``align`` within ``width`` columns."""
    free = max(width - text_width(line), 0)
    if align is Align.CENTER:
        return " " * (free // 2) + line
    if align is Align.RIGHT:
        return " " * free + line
    return line


def _fill(gap: int, fill: str) -> str:
    """Build the filler between left and right text: `` ..... `` or spaces."""
    if fill == " " or gap < 3:
        return " " * gap
    return " " + fill * (gap - 2) + " "


def layout_columns(block: Columns, width: int) -> list[str]:
    """Lay out a Columns block as lines of at most ``width`` columns.

    The left text wraps into the space the right text leaves free. The right
    text goes on the last line, after the fill (``"2 x Pizza ....... 12.00"``).
    When the right text is too wide to share a line, it goes on its own line(s),
    aligned right.
    """
    right_width = text_width(block.right)
    left_space = width - right_width - _MIN_GAP

    if not block.right:
        return wrap(block.left, width)

    if left_space < max(2, width // 4):
        left_lines = wrap(block.left, width) if block.left else []
        right_lines = [align_line(line, width, Align.RIGHT) for line in wrap(block.right, width)]
        return left_lines + right_lines

    left_lines = wrap(block.left, left_space)
    last = left_lines[-1]
    gap = width - text_width(last) - right_width
    return left_lines[:-1] + [last + _fill(gap, block.fill) + block.right]
