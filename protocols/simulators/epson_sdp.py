"""Simulated Epson printer using Server Direct Print (TM-i, TM-m30 and similar).

The printer posts the form ``ConnectionType=GetRequest&ID=<id>[&Name=<name>]``; an empty 200 response means
nothing to print, otherwise the body is a ``PrintRequestInfo`` XML document holding one or more
``<ePOSPrint>`` jobs. After printing, the printer posts ``ConnectionType=SetResponse`` with a
``PrintResponseInfo`` document. Facts come from Epson's Server Direct Print user's manual and the
ePOS-Print XML reference.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import requests

from protocols.simulators.base import (
    DEFAULT_REQUEST_TIMEOUT,
    PrintedJob,
    SimulatedPrinter,
)

logger = logging.getLogger(__name__)

EPOS_PRINT_NAMESPACE = "http://www.epson-pos.com/schemas/2011/03/epos-print"
EPOS_MEDIA_TYPE = "application/vnd.epson.epos-print+xml"

# ASB bits of the 32-bit status in print results (ePOS-Print ASB_* constants).
ASB_PRINT_SUCCESS = 0x2
ASB_OFF_LINE = 0x8
ASB_COVER_OPEN = 0x20
ASB_RECEIPT_NEAR_END = 0x20000
ASB_RECEIPT_END = 0x80000
#: Status of an idle, healthy TM printer as seen in real results (0x0F000016 = 251658262): print success,
#: drawer kick, and bits 0x10 and 0x0F000000 that receipt-only printers always report.
BASE_STATUS = 0x0F000016

#: Extra ASB bits per simulated state. A printer with no paper also reports near end and goes offline.
STATE_BITS: dict[str, int] = {
    "ok": 0,
    "near_end": ASB_RECEIPT_NEAR_END,
    "paper_end": ASB_RECEIPT_END | ASB_RECEIPT_NEAR_END | ASB_OFF_LINE,
    "cover_open": ASB_COVER_OPEN | ASB_OFF_LINE,
    "offline": ASB_OFF_LINE,
}
#: Result code a print fails with in each error state when no fail_code is set.
STATE_FAIL_CODES: dict[str, str] = {
    "paper_end": "EPTR_REC_EMPTY",
    "cover_open": "EPTR_COVER_OPEN",
    "offline": "EX_BADPORT",
}
#: Bits a fail_code adds to the reported status.
FAIL_CODE_BITS: dict[str, int] = {
    "EPTR_COVER_OPEN": ASB_COVER_OPEN | ASB_OFF_LINE,
    "EPTR_REC_EMPTY": ASB_RECEIPT_END | ASB_RECEIPT_NEAR_END | ASB_OFF_LINE,
}

#: A print request larger than this is rejected unread, as TM-T88VI does with "Too big print request".
_MAX_REQUEST_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class EposJob:
    """One ``<ePOSPrint>`` block of a print request."""

    devid: str
    timeout_ms: int | None
    #: printjobid (Version 2.00 and later); None in Version 1.00 requests.
    job_id: str | None
    #: The ``<epos-print>`` element serialised back to XML.
    document: str
    #: Text content of the document: ``<text>`` contents, with a newline per ``<feed>``.
    text: str
    cuts: int = 0


@dataclass(frozen=True)
class PrintRequest:
    """A parsed ``PrintRequestInfo`` document."""

    version: str
    jobs: list[EposJob] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def parse_print_request(xml_text: str | bytes) -> PrintRequest | None:
    """Parse a ``PrintRequestInfo`` document; return None for malformed or foreign XML. Never raises.

    Entity expansion is bounded by expat (2.4 and later refuse billion-laughs documents).
    """
    try:
        root = ET.fromstring(xml_text)
    except (ET.ParseError, ValueError, TypeError):
        return None

    if _local(root.tag) != "PrintRequestInfo":
        return None

    jobs = []
    for block in root:
        if _local(block.tag) != "ePOSPrint":
            continue
        job = _parse_job(block)
        if job is not None:
            jobs.append(job)
    return PrintRequest(version=root.get("Version", "1.00"), jobs=jobs)


def _parse_job(block: ET.Element) -> EposJob | None:
    parameter = _child(block, "Parameter")
    print_data = _child(block, "PrintData")
    document = None if print_data is None else _child(print_data, "epos-print")
    if document is None:
        return None

    devid = job_id = None
    timeout = None
    if parameter is not None:
        devid = _child_text(parameter, "devid")
        job_id = _child_text(parameter, "printjobid")
        timeout = _decimal(_child_text(parameter, "timeout"))
    text, cuts = _document_text(document)
    return EposJob(
        devid=devid or "local_printer",
        timeout_ms=timeout,
        job_id=job_id,
        document=ET.tostring(document, encoding="unicode"),
        text=text,
        cuts=cuts,
    )


def _child_text(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None or child.text is None else child.text.strip()


def _decimal(text: str | None) -> int | None:
    """Return `text` as a non-negative ASCII decimal integer, or None."""
    if text is None or not text.strip().isascii() or not text.strip().isdigit():
        return None
    return int(text.strip())


def _document_text(document: ET.Element) -> tuple[str, int]:
    parts: list[str] = []
    cuts = 0
    for element in document.iter():
        name = _local(element.tag)
        if name == "text" and element.text:
            parts.append(element.text)
        elif name == "feed":
            lines = _decimal(element.get("line"))
            parts.append("\n" * (1 if lines is None else min(lines, 255)))
        elif name == "cut":
            cuts += 1
    return "".join(parts), cuts


class EpsonSdpSimulator(SimulatedPrinter):
    """An Epson TM printer polling `url` with Server Direct Print.

    Behaviours settable from any thread (plain attribute writes): :attr:`result_delay`,
    :attr:`drop_result`, :attr:`fail_code`; plus :meth:`set_status`, :meth:`go_offline` and
    :meth:`come_online`.
    """

    def __init__(
        self,
        url: str,
        printer_id: str,
        *,
        name: str | None = None,
        poll_interval: float = 2.0,
        result_version: str = "2.00",
        digest_auth: tuple[str, str] | None = None,
        request_timeout: tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        super().__init__(f"epson-{printer_id}", poll_interval=poll_interval)
        self.url = url
        self.sdp_id = printer_id
        self.name = name
        self.result_version = result_version
        self.request_timeout = request_timeout
        self._auth = requests.auth.HTTPDigestAuth(*digest_auth) if digest_auth else None
        #: Seconds between printing and posting the result.
        self.result_delay: float = 0.0
        #: When True the printer prints but never posts the result.
        self.drop_result: bool = False
        #: ePOS-Print error code every job fails with, e.g. "EPTR_COVER_OPEN"; None prints normally.
        self.fail_code: str | None = None
        self._state = "ok"
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.auth = self._auth

    # -- state -----------------------------------------------------------------------------------------

    def set_status(self, state: str) -> None:
        """Set the printer state: ok, near_end, paper_end, cover_open or offline; ValueError otherwise.

        In paper_end, cover_open and offline every job fails with the matching code unless
        :attr:`fail_code` names another one.
        """
        if state not in STATE_BITS:
            raise ValueError(f"Unknown Epson printer state {state!r}; use one of {sorted(STATE_BITS)}.")

        with self._lock:
            self._state = state
        logger.info("Simulator state changed printer=%s state=%s", self.printer_id, state)

    @property
    def status(self) -> str:
        """Current simulated state name."""
        with self._lock:
            return self._state

    def asb_status(self, fail_code: str | None = None) -> int:
        """Return the 32-bit ASB status for the current state, after a job that failed with `fail_code`."""
        status = BASE_STATUS | STATE_BITS[self.status]
        if fail_code is not None:
            status = (status & ~ASB_PRINT_SUCCESS) | FAIL_CODE_BITS.get(fail_code, 0)
        return status

    # -- poll ------------------------------------------------------------------------------------------

    def _form(self, connection_type: str) -> dict[str, str]:
        form = {"ConnectionType": connection_type, "ID": self.sdp_id}
        if self.name is not None:
            form["Name"] = self.name
        return form

    def poll_once(self) -> bool:
        try:
            response = self._session.post(self.url, data=self._form("GetRequest"), timeout=self.request_timeout)
        except requests.RequestException as err:
            self._report_failure("print request", err)
            return False

        self._count("polls")
        if response.status_code != 200:
            self._report_failure("print request", f"HTTP {response.status_code}")
            return False

        self._report_success()
        body = response.content
        if not body.strip():
            return False

        if len(body) > _MAX_REQUEST_BYTES:
            logger.warning("Print request too big printer=%s bytes=%d", self.printer_id, len(body))
            self._count("invalid_requests")
            return False

        request = parse_print_request(body)
        if request is None or not request.jobs:
            logger.warning("Invalid print request XML printer=%s start=%r", self.printer_id, body[:80])
            self._count("invalid_requests")
            return False

        self._count("fetches")
        self._print_all(request)
        return False

    def _print_all(self, request: PrintRequest) -> None:
        results: list[tuple[EposJob, str | None]] = []
        for job in request.jobs:
            code = self.fail_code or STATE_FAIL_CODES.get(self.status)
            printed = PrintedJob(job.job_id, EPOS_MEDIA_TYPE, job.document.encode(), job.text,
                                 details={"devid": job.devid, "cuts": job.cuts, "code": code or ""})
            if code is None:
                self._record_printed(printed)
                logger.info("Printed job printer=%s job=%s", self.printer_id, job.job_id)
            else:
                self._record_failed(printed)
                logger.info("Simulated print failure printer=%s job=%s code=%s", self.printer_id, job.job_id, code)
            results.append((job, code))

        if self.result_delay > 0 and not self.sleep(self.result_delay):
            return
        if self.drop_result:
            self._count("dropped_results")
            logger.info("Dropping print result printer=%s jobs=%d", self.printer_id, len(results))
            return

        self._send_result(results)

    # -- result ----------------------------------------------------------------------------------------

    def response_file(self, results: list[tuple[EposJob, str | None]]) -> str:
        """Build the ``PrintResponseInfo`` XML for `results` (job, failure code or None), CRLF line ends."""
        lines = ['<?xml version="1.0" encoding="utf-8"?>']
        if self.result_version == "1.00":
            # Version 1.00 has a single result and no printjobid: report the first failure, if any.
            code = next((code for _, code in results if code is not None), None)
            lines += ['<PrintResponseInfo Version="1.00">', self._response_element(code), "</PrintResponseInfo>"]
            return "\r\n".join(lines) + "\r\n"

        lines.append(f"<PrintResponseInfo Version={quoteattr(self.result_version)}>")
        for job, code in results:
            job_id = "" if job.job_id is None else f"<printjobid>{escape(job.job_id)}</printjobid>"
            lines += [
                "<ePOSPrint>",
                f"<Parameter><devid>{escape(job.devid)}</devid>{job_id}</Parameter>",
                "<PrintResponse>",
                self._response_element(code),
                "</PrintResponse>",
                "</ePOSPrint>",
            ]
        lines.append("</PrintResponseInfo>")
        return "\r\n".join(lines) + "\r\n"

    def _response_element(self, code: str | None) -> str:
        success = "true" if code is None else "false"
        return (f'<response xmlns="{EPOS_PRINT_NAMESPACE}" success="{success}" code={quoteattr(code or "")} '
                f'status="{self.asb_status(code)}" battery="0"/>')

    def _send_result(self, results: list[tuple[EposJob, str | None]]) -> None:
        form = self._form("SetResponse")
        form["ResponseFile"] = self.response_file(results)
        try:
            response = self._session.post(self.url, data=form, timeout=self.request_timeout)
        except requests.RequestException as err:
            self._report_failure("print result", err)
            return

        self._count("confirmations")
        if response.status_code != 200:
            self._report_failure("print result", f"HTTP {response.status_code}")
            return

        logger.info("Sent print result printer=%s jobs=%s", self.printer_id, [job.job_id for job, _ in results])

    def send_status_notification(self, status_url: str) -> int | None:
        """Post a Status Notification (``ConnectionType=SetStatus``) to `status_url`.

        Safe to call from any thread. Returns the HTTP status, or None when the request failed.
        """
        status = (
            '<?xml version="1.0" encoding="utf-8"?>\r\n<statusmonitor Version="1.00">\r\n'
            f'<printerstatus devicename="local_printer" asbstatus="0x{self.asb_status():08X}"/>\r\n'
            "</statusmonitor>\r\n"
        )
        form = {"ConnectionType": "SetStatus", "ID": self.sdp_id, "Status": status}
        try:
            response = requests.post(status_url, data=form, auth=self._auth, timeout=self.request_timeout)
        except requests.RequestException as err:
            self._report_failure("status notification", err)
            return None

        self._count("status_notifications")
        return response.status_code

    def _cleanup(self) -> None:
        self._session.close()
        self._session = requests.Session()
        self._session.auth = self._auth
