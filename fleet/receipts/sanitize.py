"""Cleaning of customer and merchant text before it enters a receipt document.

Text from orders and print settings is data, never printer commands. An ESC/POS,
StarPRNT or Goodcom printer treats C0 control bytes (ESC 0x1B, GS 0x1D, FS 0x1C,
DLE 0x10, ...) as the start of a command, so a customer name such as
``"Bob\\x1dV\\x00"`` would cut the paper. :func:`clean_text` removes every such
character, and the document model rejects any text that still contains one.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode general categories removed from printable text: control characters
# (C0, DEL, C1), format characters (bidi overrides, zero-width joiners, soft
# hyphen), surrogates, private use and unassigned code points. None of them has a
# glyph on a receipt printer, and the controls can become printer commands.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

# Tabs and line breaks become one space so that the words on either side stay
# apart ("Ring\tbell" prints as "Ring bell"). FS, GS, RS and US (0x1C-0x1F) are
# ESC/POS command prefixes, so they are dropped like the other controls.
_SPACE_CHARACTERS = frozenset("\t\n\v\f\r\x85\u2028\u2029")

_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")


def is_removed_character(char: str) -> bool:
    """Return True when ``char`` may not appear in receipt text."""
    return unicodedata.category(char) in _REMOVED_CATEGORIES


def has_removed_characters(text: str) -> bool:
    """Return True when ``text`` contains a character that :func:`clean_text` removes."""
    return any(is_removed_character(char) for char in text)


def clean_text(text: str) -> str:
    """Strip control and format characters from ``text`` and normalise it to NFC.

    Tabs, line breaks and the other whitespace controls become a space, every
    other removed character (see ``_REMOVED_CATEGORIES``) is dropped. The result
    is one line of printable text. Filtering runs before normalisation
    because removing a control character can bring a base letter and a combining
    mark together, which NFC then composes; in this order the function is
    idempotent.
    """
    kept: list[str] = []
    for char in text.replace("\r\n", "\n"):
        if char in _SPACE_CHARACTERS:
            kept.append(" ")
        elif not is_removed_character(char):
            kept.append(char)

    return unicodedata.normalize("NFC", "".join(kept))


def clean_lines(text: str) -> list[str]:
    """Split multi-line ``text`` at line breaks and clean each line.

    Trailing whitespace is removed from each line, and leading and trailing
    empty lines are dropped, so ``"\\nShop\\r\\n\\n"`` gives ``["Shop"]``. Empty
    lines in the middle are kept because merchants use them as spacing.
    """
    lines = [clean_text(line).rstrip() for line in _LINE_BREAK.split(text)]

    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()

    return lines
