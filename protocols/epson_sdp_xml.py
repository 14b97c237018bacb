"""Epson Server Direct Print documents: result codes, the ASB status bits, and the parsers of
``ResponseFile`` (print results, Versions 1.00 to 3.00) and ``Status`` (Status Notification).

XML with DOCTYPE or ENTITY declarations is refused before parsing, so no entity is ever expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree

#: ``devid`` of the printer itself in ePOS-Print (other devices have their own, e.g. ``local_display``).
DEFAULT_DEVID = "local_printer"


# -- Result codes and the ASB status ----------------------------------------------------------------------

#: ePOS-Print result codes of failed jobs, explained for operators (Epson ePOS-Print XML and Server
#: Direct Print user's manuals).
RESULT_CODE_TEXT: dict[str, str] = {
    "EPTR_AUTOMATICAL": "An automatically recoverable error occurred, for example the print head overheated "
                        "during continuous high-density printing; the printer resumes on its own.",
    "EPTR_BATTERY_LOW": "The printer's battery is low; charge it.",
    "EPTR_COVER_OPEN": "The printer cover is open; close it.",
    "EPTR_CUTTER": "The autocutter failed, usually because of a paper jam; clear it and restart the printer.",
    "EPTR_MECHANICAL": "A mechanical error occurred; check for a paper jam and restart the printer.",
    "EPTR_REC_EMPTY": "The printer is out of paper; load a new roll.",
    "EPTR_UNRECOVERABLE": "An unrecoverable error occurred; restart the printer and call service if it persists.",
    "SchemaError": "The printer rejected the print data as invalid ePOS-Print XML.",
    "DeviceNotFound": "The TM printer has no device with the job's device ID; set the printer's sdp_devid "
                      "setting to a device ID registered on it, usually local_printer.",
    "PrintSystemError": "The printer's print system failed; restart the printer.",
    "EX_BADPORT": "The print device could not be reached: its communication port failed or it is not connected.",
    "EX_TIMEOUT": "Printing did not finish within the job's timeout.",
    "EX_SPOOLER": "The printer's print queue is full.",
    "JobNotFound": "The printer could not find the print job.",
    "Printing": "The printer was still printing another job.",
}

#: ASB status bits (ePOS-Print ``ASB_*`` constants) that are health conditions.
ASB_CONDITIONS: dict[int, str] = {
    0x00080000: "paper_out",  # ASB_RECEIPT_END
    0x00020000: "paper_low",  # ASB_RECEIPT_NEAR_END
    0x00000020: "cover_open",  # ASB_COVER_OPEN
    0x00000008: "offline_bit",  # ASB_OFF_LINE
    0x00000800: "cutter_error",  # ASB_AUTOCUTTER_ERR
    0x00000400: "mechanical_error",  # ASB_MECHANICAL_ERR
    0x00002000: "unrecoverable_error",  # ASB_UNRECOVER_ERR
    0x00004000: "auto_recoverable_error",  # ASB_AUTORECOVER_ERR
}
#: Documented ASB bits that are no condition: no response, print success, drawer kick, paper feed,
#: wait on line, panel switch, buzzer, no label, spooler stopped.
ASB_OTHER_BITS = 0x1 | 0x2 | 0x4 | 0x40 | 0x100 | 0x200 | 0x01000000 | 0x04000000 | 0x80000000
#: Bits set in every status seen from receipt printers (0x0F000016 when idle). They appear to be the
#: slip and validation "not selected" bits of Epson's Windows status API, which Epson has not confirmed.
ASB_NORMAL_BITS = 0x10 | 0x0F000000


def explain_result(success: bool, code: str | None) -> str:
    """Return the operator's explanation of a print result."""
    if success:
        return "The job printed."
    if not code:
        return "The printer reported a failure without a result code."
    known = RESULT_CODE_TEXT.get(code)
    if known is not None:
        return known
    return f"Unknown result code {code}; look it up in Epson's ePOS-Print result code list."


def asb_conditions(asb: int) -> set[str]:
    """Return the health conditions an ASB status shows; paper out implies paper low, so only it is kept."""
    conditions = {name for bit, name in ASB_CONDITIONS.items() if asb & bit}
    if "paper_out" in conditions:
        conditions.discard("paper_low")
    return conditions


def asb_detail(asb: int) -> dict[str, str]:
    """Return the ASB status and any bits no documentation explains, both as 8-digit hex."""
    known = sum(ASB_CONDITIONS) | ASB_OTHER_BITS | ASB_NORMAL_BITS
    return {"asb": f"0x{asb:08X}", "unknown_bits": f"0x{asb & ~known & 0xFFFFFFFF:08X}"}


# -- ResponseFile and Status parsing ----------------------------------------------------------------------

_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PRINT_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,30}")
#: Results read from one ResponseFile. A printer sends one per job, and a print request contains a few.
_MAX_RESULTS = 100
_CODE_JUNK = re.compile(r"[^\x21-\x7e]")
_DECIMAL = re.compile(r"([0-9]{1,10})")
_HEX = re.compile(r"(?:0[xX])?([0-9A-Fa-f]{1,8})")


@dataclass(frozen=True)
class PrintResult:
    """One ``<response>`` of a ResponseFile."""

    #: None in Version 1.00 results.
    printjobid: str | None
    success: bool
    code: str | None
    #: The 32-bit ASB status (decimal ``status`` attribute); None when absent or invalid.
    asb: int | None


@dataclass(frozen=True)
class ResponseFile:
    version: str = "1.00"
    results: list[PrintResult] = field(default_factory=list)
    #: Why entries were left out, e.g. an invalid ``success`` value.
    skipped: list[str] = field(default_factory=list)
    #: The Version 3.00 ``<ServerDirectPrint>`` error (summary and detail) when the printer rejected
    #: the print request itself.
    request_error: str | None = None
    #: Why the whole document is unusable; None when it was read.
    problem: str | None = None


@dataclass(frozen=True)
class StatusNotification:
    asb: int | None = None
    problem: str | None = None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _parse_xml(text: str, root_name: str) -> ElementTree.Element | str:
    """Return the root element, or the reason the text is unusable. A DTD is rejected before parsing,
    so no entity is ever expanded."""
    if _DECLARATION.search(text):
        return "it contains a DOCTYPE or ENTITY declaration"
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError) as err:
        return f"it is not well-formed XML ({str(err)[:80]})"
    if _local(root.tag) != root_name:
        return f"its root element is {_local(root.tag)[:40]!r}, not {root_name}"
    return root


def _parse_asb(raw: str | None, hexadecimal: bool) -> int | None:
    """Read a 32-bit ASB status: decimal in print results, ``0x`` hex in Status Notifications."""
    text = (raw or "").strip()
    match = (_HEX if hexadecimal or text[:2].lower() == "0x" else _DECIMAL).fullmatch(text)
    if match is None:
        return None
    value = int(match.group(1), 16 if match.re is _HEX else 10)
    return value if value <= 0xFFFFFFFF else None


def _parse_result(element: ElementTree.Element, printjobid: str | None) -> PrintResult | str:
    success = (element.get("success") or "").strip().lower()
    if success not in ("true", "1", "false", "0"):
        return f"success={success[:20]!r} is neither true nor false (printjobid={printjobid})"
    code = _CODE_JUNK.sub("", element.get("code") or "")[:64] or None
    return PrintResult(printjobid, success in ("true", "1"), code, _parse_asb(element.get("status"), hexadecimal=False))


def _parse_block(block: ElementTree.Element) -> PrintResult | str:
    printjobid = None
    for element in block.iter():
        if _local(element.tag) == "printjobid":
            printjobid = (element.text or "").strip() or None
            break
    if printjobid is not None and not _PRINT_JOB_ID.fullmatch(printjobid):
        return f"printjobid {printjobid[:40]!r} is invalid"
    response = next((element for element in block.iter() if _local(element.tag) == "response"), None)
    if response is None:
        return f"no <response> for printjobid={printjobid}"
    return _parse_result(response, printjobid)


def _request_error(root: ElementTree.Element) -> str | None:
    for element in root.iter():
        if _local(element.tag) == "Response" and (element.get("Success") or "").strip().lower() in ("false", "0"):
            texts = [" ".join((child.text or "").split()) for child in element
                     if _local(child.tag) in ("ErrorSummary", "ErrorDetail")]
            return "; ".join(text for text in texts if text)[:500] or "no error summary"
    return None


def parse_response_file(text: str) -> ResponseFile:
    """Read a ``PrintResponseInfo`` document (Version 1.00, 2.00 or 3.00); never raises.

    Version 1.00 has one ``<response>`` under the root; later versions have one ``<ePOSPrint>``
    block per job with its ``printjobid``. ``<ePOSDisplay>`` blocks (customer displays) are ignored.
    """
    root = _parse_xml(text, "PrintResponseInfo")
    if isinstance(root, str):
        return ResponseFile(problem=root)
    version = (root.get("Version") or "1.00").strip()[:10]
    results: list[PrintResult] = []
    skipped: list[str] = []
    for child in root:
        name = _local(child.tag)
        if name not in ("ePOSPrint", "response"):
            continue
        if len(results) + len(skipped) >= _MAX_RESULTS:
            skipped.append(f"results after the first {_MAX_RESULTS} were not read")
            break
        entry = _parse_block(child) if name == "ePOSPrint" else _parse_result(child, None)
        if isinstance(entry, str):
            skipped.append(entry)
        else:
            results.append(entry)
    request_error = _request_error(root)
    if not results and request_error is None:
        return ResponseFile(version, skipped=skipped, problem="it holds no usable result")
    return ResponseFile(version, results, skipped, request_error)


def parse_status_notification(text: str) -> StatusNotification:
    """Read a ``statusmonitor`` document; the ``local_printer`` entry wins, else the first one. Never raises."""
    root = _parse_xml(text, "statusmonitor")
    if isinstance(root, str):
        return StatusNotification(problem=root)
    entries = [element for element in root.iter() if _local(element.tag) == "printerstatus"]
    entries.sort(key=lambda element: element.get("devicename") != DEFAULT_DEVID)
    if not entries:
        return StatusNotification(problem="it holds no printerstatus")
    asb = _parse_asb(entries[0].get("asbstatus"), hexadecimal=True)
    if asb is None:
        return StatusNotification(problem=f"asbstatus {str(entries[0].get('asbstatus'))[:20]!r} is not 32-bit hex")
    return StatusNotification(asb)
