"""Decode Star CloudPRNT status: the ``statusCode`` string and the ASB status bytes.

``statusCode`` is a 3- or 4-digit code with an optional description ("200 OK", "211%20Paper%20Low",
"410 Paper Out"); it arrives URL-encoded in poll bodies and query strings. The leading digits carry
the meaning: 2xx online (21x paper low), 4xx printer error (41x paper, 42x cover), 5xx client error
(51x media, 52x download). The ASB bytes add detail the code does not carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

_CODE = re.compile(r"^\s*(\d{3,4})")

#: ASB bit positions as (byte index, mask, condition), bytes counted from 0 including the two headers.
#: NOTE: byte 2 (offline 0x08, cover 0x20) matches Star's published samples; the error and paper
#: positions in bytes 3 to 5 follow Star's StarPRNT status layout and were not checked on hardware.
ASB_BITS: tuple[tuple[int, int, str], ...] = (
    (2, 0x08, "offline_bit"),
    (2, 0x20, "cover_open"),
    (3, 0x04, "mechanical_error"),
    (3, 0x08, "cutter_error"),
    (3, 0x20, "unrecoverable_error"),
    (4, 0x40, "jam"),
    (5, 0x04, "paper_low"),
    (5, 0x08, "paper_out"),
)


@dataclass(frozen=True)
class StatusCode:
    #: The numeric code, e.g. "200", "2000" or "410"; empty when none could be read.
    code: str
    description: str

    @property
    def is_success(self) -> bool:
        """True for any 2xx code (3 or 4 digits, with or without text) and for a bare "OK".

        Star's CloudPRNT Developer Guide Rev 1.4 documents the confirmation ``code`` as the word
        "OK" without digits, so firmware that follows it must not have its printed jobs failed.
        """
        if not self.code:
            return self.description.upper() == "OK"
        return self.code.startswith("2")

    @property
    def family(self) -> str:
        return self.code[:2] if len(self.code) >= 2 else ""

    def __str__(self) -> str:
        return f"{self.code} {self.description}".strip()


def parse_status_code(raw: object) -> StatusCode:
    """Parse a ``statusCode``/``code`` value, URL-encoded or not; never raises."""
    if raw is None:
        return StatusCode("", "")
    text = unquote_plus(str(raw)).strip()
    match = _CODE.match(text)
    if match is None:
        return StatusCode("", text[:60])
    return StatusCode(match.group(1), text[match.end():].strip()[:60])


def parse_asb(raw: object) -> bytes | None:
    """Parse ASB hex bytes ("23 6 0 0 ..." unpadded, or "23 86 00 ...") into bytes; None when unreadable."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    values = bytearray()
    for part in raw.split():
        if len(part) > 2:
            return None
        try:
            values.append(int(part, 16))
        except ValueError:
            return None
    return bytes(values)


def asb_conditions(asb: bytes | None) -> set[str]:
    conditions: set[str] = set()
    if asb is None:
        return conditions
    for index, mask, name in ASB_BITS:
        if len(asb) > index and asb[index] & mask:
            conditions.add(name)
    return conditions


def code_conditions(status: StatusCode) -> set[str]:
    """Conditions a status code states on its own."""
    family = status.family
    if family == "21":
        return {"paper_low"}
    if status.code in ("411",):
        return {"jam"}
    if family == "41":
        return {"paper_out"}
    if family == "42":
        return {"cover_open"}
    if status.code.startswith("4"):
        return {"printer_error"}
    return set()


def to_bool(raw: object) -> bool:
    """Read a CloudPRNT boolean that may come as a JSON boolean, a string or be missing."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1", "yes")
    if isinstance(raw, int):
        return raw != 0
    return False
