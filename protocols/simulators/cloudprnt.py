"""Simulated Star CloudPRNT printer speaking the HTTP variant against a real server.

One URL carries the three request types: the poll is a JSON POST, the job download a GET with
``type``/``mac``/``token`` in the query string, and the confirmation a DELETE (or a GET with a bare
``delete`` flag when the poll response contained ``"deleteMethod": "GET"``). Facts come from Star's CloudPRNT
Developer Guide Rev 1.4 and Protocol Guide 2.4.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from protocols.simulators.base import (
    DEFAULT_REQUEST_TIMEOUT,
    PrintedJob,
    SimulatedPrinter,
)

logger = logging.getLogger(__name__)

DEFAULT_ENCODINGS: tuple[str, ...] = (
    "text/plain",
    "image/png",
    "application/vnd.star.starprnt",
    "application/octet-stream",
)
DEFAULT_PAGE_INFO: dict[str, str] = {
    "paperWidth": "80",
    "printWidth": "72",
    "horizontalResolution": "8",
    "verticalResolution": "8",
}

#: statusCode sent in the poll for each simulated state (Star printer status codes, 3 digits + text).
STATUS_CODES: dict[str, str] = {
    "ok": "200 OK",
    "paper_low": "211 Paper Low",
    "paper_out": "410 Paper Out",
    "jam": "411 Paper Jam",
    "cover_open": "420 Cover Open",
}

# ASB byte indexes and bits (Star Automatic Status Back, 9-byte form).
# NOTE: the bit positions follow the Star ASB layout as commonly decoded: offline 0x08 and cover open 0x20
# in byte 3, paper near end 0x04 and paper empty 0x08 in byte 6. The jam bit (byte 5, 0x08) is a guess.
_ASB_HEADER = (0x23, 0x06)
_ASB_BITS: dict[str, tuple[tuple[int, int], ...]] = {
    "ok": (),
    "paper_low": ((5, 0x04),),
    "paper_out": ((2, 0x08), (5, 0x04), (5, 0x08)),
    "jam": ((2, 0x08), (4, 0x08)),
    "cover_open": ((2, 0x08), (2, 0x20)),
}

CODE_INCOMPATIBLE_MEDIA = "510 Incompatible Media Type"
CODE_DOWNLOAD_FAILED = "520 Job Download Failed"

#: Confirmations that fail on the network are retried this many times, then given up.
_MAX_CONFIRMATION_ATTEMPTS = 5


def asb_status(state: str) -> str:
    """Return the ASB hex string for a state in Star's unpadded style, e.g. ``"23 6 0 0 0 0 0 0 0 "``."""
    status = [*_ASB_HEADER, 0, 0, 0, 0, 0, 0, 0]
    for index, bit in _ASB_BITS[state]:
        status[index] |= bit
    return "".join(f"{byte:x} " for byte in status)


def png_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) from a PNG's IHDR chunk, or None when `data` is not a PNG."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None

    width, height = struct.unpack(">II", data[16:24])
    return width, height


@dataclass
class _JobInProgress:
    """A downloaded job whose confirmation has not been sent yet."""

    token: str | None
    confirmation_url: str
    method: str
    code: str = "200 OK"
    due: float = 0.0
    attempts: int = 0


class CloudPrntSimulator(SimulatedPrinter):
    """A Star CloudPRNT HTTP printer (mC-Print3 by default) polling `url`.

    Behaviours settable from any thread (plain attribute writes, read once per use):
    :attr:`confirm_delay`, :attr:`drop_confirmation`, :attr:`confirm_code`, :attr:`string_booleans`,
    :attr:`omit_optional_fields`; plus :meth:`set_status`, :meth:`go_offline` and :meth:`come_online`.
    """

    def __init__(
        self,
        url: str,
        mac: str,
        *,
        poll_interval: float = 2.0,
        client_type: str = "Star mC-Print3",
        client_version: str = "5.1",
        encodings: tuple[str, ...] = DEFAULT_ENCODINGS,
        page_info: dict[str, str] | None = None,
        delete_method_override: str | None = None,
        auth: Any = None,
        request_timeout: tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self.mac = mac.strip().lower().replace("-", ":")
        super().__init__(self.mac, poll_interval=poll_interval)
        self.url = url
        self.client_type = client_type
        self.client_version = client_version
        self.encodings = tuple(encodings)
        self.page_info = dict(page_info if page_info is not None else DEFAULT_PAGE_INFO)
        self.delete_method_override = delete_method_override.upper() if delete_method_override else None
        self.request_timeout = request_timeout
        #: Seconds the printer waits after printing before it confirms. It keeps polling meanwhile.
        self.confirm_delay: float = 0.0
        #: When True the printer prints but never sends the confirmation (a lost DELETE).
        self.drop_confirmation: bool = False
        #: Code sent in the confirmation after printing; a non-2xx code means the job did not print.
        self.confirm_code: str = "200 OK"
        #: Send printingInProgress as the strings "true"/"false", as some firmware does.
        self.string_booleans: bool = False
        #: Send only statusCode in the poll, the one mandatory field.
        self.omit_optional_fields: bool = False
        #: ID the server stored with the SetID client action; sent as uniqueID and uid=.
        self.unique_id: str | None = None
        self._lock = threading.Lock()
        self._status = "ok"
        self._action_results: list[dict[str, Any]] = []
        self._in_progress: _JobInProgress | None = None
        self._session = requests.Session()
        self._session.auth = auth

    # -- behaviours ------------------------------------------------------------------------------------

    def set_status(self, state: str) -> None:
        """Set the printer state: ok, paper_low, paper_out, cover_open or jam.

        Raises ValueError for any other name. In paper_out, cover_open and jam the printer keeps polling
        but does not fetch jobs, as a real printer in an error state does.
        """
        if state not in STATUS_CODES:
            raise ValueError(f"Unknown CloudPRNT printer state {state!r}; use one of {sorted(STATUS_CODES)}.")

        with self._lock:
            self._status = state
        logger.info("Simulator state changed printer=%s state=%s", self.printer_id, state)

    @property
    def status(self) -> str:
        """Current simulated state name."""
        with self._lock:
            return self._status

    @property
    def printing_in_progress(self) -> bool:
        """True between the job download and its confirmation."""
        with self._lock:
            return self._in_progress is not None

    @property
    def user_agent(self) -> str:
        """User-Agent as mC-Print3 firmware 5.x sends it, e.g. ``CloudPRNT/5.1 mC-Print3/5.1``."""
        model = self.client_type.removeprefix("Star ").replace(" ", "")
        return f"CloudPRNT/{self.client_version} {model}/{self.client_version}"

    # -- poll ------------------------------------------------------------------------------------------

    def poll_once(self) -> bool:
        job = self._due_confirmation()
        if job is not None:
            self._send_confirmation(job)
            return False

        body, results = self._poll_body()
        headers = {"Content-Type": "application/json", "User-Agent": self.user_agent}
        try:
            response = self._session.post(
                self.url, data=json.dumps(body), headers=headers, timeout=self.request_timeout
            )
        except requests.RequestException as err:
            self._report_failure("poll", err)
            return False

        self._count("polls")
        if response.status_code != 200:
            self._report_failure("poll", f"HTTP {response.status_code}")
            return False

        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self._report_failure("poll", f"response is not a JSON object: {response.text[:80]!r}")
            return False

        self._report_success()
        with self._lock:
            # The server received these results, so drop them but keep any queued meanwhile.
            self._action_results = self._action_results[len(results):]
        logger.debug("Poll response printer=%s body=%s", self.printer_id, str(reply)[:200])
        return self._handle_poll_reply(reply)

    def _poll_body(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self._lock:
            state = self._status
            results = list(self._action_results)
            job = self._in_progress

        body: dict[str, Any] = {"statusCode": quote(STATUS_CODES[state])}
        if self.omit_optional_fields:
            return body, []

        printing: bool | str = job is not None
        if self.string_booleans:
            printing = "true" if printing else "false"
        body["status"] = asb_status(state)
        body["printerMAC"] = self.mac
        body["printingInProgress"] = printing
        if self.unique_id is not None:
            body["uniqueID"] = self.unique_id
        if job is not None and job.token is not None:
            body["jobToken"] = job.token
        body["clientAction"] = results or None
        return body, results

    def _handle_poll_reply(self, reply: dict[str, Any]) -> bool:
        actions = reply.get("clientAction")
        if isinstance(actions, list) and actions:
            # A response with client actions is not a print request. The results go in the next poll,
            # which starts at once.
            self._queue_action_results(actions)
            return True

        if reply.get("jobReady") not in (True, "true"):
            return False

        if self.printing_in_progress:
            logger.debug("Ignoring jobReady while printing printer=%s", self.printer_id)
            return False

        state = self.status
        if STATUS_CODES[state][0] != "2":
            logger.debug("Ignoring jobReady in state=%s printer=%s", state, self.printer_id)
            return False

        self._fetch_and_print(reply)
        return False

    # -- client actions --------------------------------------------------------------------------------

    def _queue_action_results(self, actions: list[Any]) -> None:
        results = []
        for action in actions:
            if not isinstance(action, dict):
                continue
            request = str(action.get("request", ""))
            results.append({"request": request, "result": self._action_result(request, action.get("options"))})
        with self._lock:
            self._action_results.extend(results)
        logger.debug("Queued client action results printer=%s requests=%s", self.printer_id,
                     [result["request"] for result in results])

    def _action_result(self, request: str, options: Any) -> Any:
        if request == "ClientType":
            return self.client_type
        if request == "ClientVersion":
            return self.client_version
        if request == "Encodings":
            return "; ".join(self.encodings)
        if request == "GetPollInterval":
            return f"{self.poll_interval:g}"
        if request == "PageInfo":
            return dict(self.page_info)
        if request == "SetID":
            self.unique_id = "" if options is None else str(options)
            logger.info("Stored server ID printer=%s uid=%s", self.printer_id, self.unique_id)
            # NOTE: the result of SetID is not documented; the simulator echoes the stored ID.
            return self.unique_id

        logger.debug("Unsupported client action printer=%s request=%s", self.printer_id, request)
        return ""

    # -- job download ----------------------------------------------------------------------------------

    def _fetch_and_print(self, reply: dict[str, Any]) -> None:
        token = reply.get("jobToken")
        token = None if token is None else str(token)
        method = self.delete_method_override
        if method is None:
            method = "GET" if str(reply.get("deleteMethod", "DELETE")).upper() == "GET" else "DELETE"
        job = _JobInProgress(token, str(reply.get("jobConfirmationUrl") or self.url), method)

        offered = [str(media) for media in reply.get("mediaTypes") or []]
        media_type = next((media for media in offered if media in self.encodings), None)
        if offered and media_type is None:
            logger.warning("No offered media type is supported printer=%s job=%s offered=%s",
                           self.printer_id, token, offered)
            self._finish(job, CODE_INCOMPATIBLE_MEDIA)
            return

        url = _with_query(str(reply.get("jobGetUrl") or self.url), self._job_query(media_type, token))
        try:
            response = self._session.get(url, headers=self._job_headers(token), timeout=self.request_timeout)
        except requests.RequestException as err:
            # The GET is repeatable: the next poll offers the job again.
            self._report_failure("job download", err)
            return

        self._count("fetches")
        if response.status_code != 200:
            code = CODE_INCOMPATIBLE_MEDIA if response.status_code == 415 else CODE_DOWNLOAD_FAILED
            logger.warning("Job download failed printer=%s job=%s http=%d confirming code=%r",
                           self.printer_id, token, response.status_code, code)
            self._finish(job, code)
            return

        self._print(job, response, media_type)

    def _job_query(self, media_type: str | None, token: str | None) -> list[tuple[str, str]]:
        query = []
        if self.unique_id is not None:
            query.append(("uid", self.unique_id))
        if media_type is not None:
            query.append(("type", media_type))
        query.append(("mac", self.mac))
        if token is not None:
            query.append(("token", token))
        return query

    def _job_headers(self, token: str | None) -> dict[str, str]:
        headers = {
            "User-Agent": self.user_agent,
            "Accept": ", ".join(self.encodings),
            "X-Star-Mac": self.mac,
            "X-Star-Serial-Number": "SIM" + self.mac.replace(":", "").upper(),
            "X-Star-Paper-Width": self.page_info.get("paperWidth", ""),
            "X-Star-Print-Width": self.page_info.get("printWidth", ""),
            "X-Star-Horizontal-Resolution": self.page_info.get("horizontalResolution", ""),
            "X-Star-Vertical-Resolution": self.page_info.get("verticalResolution", ""),
            "X-Star-Support-Protocols": "HTTP",
        }
        if token is not None:
            headers["X-Star-Token"] = token
        if self.unique_id is not None:
            headers["X-Star-Id"] = self.unique_id
        return headers

    def _print(self, job: _JobInProgress, response: requests.Response, requested: str | None) -> None:
        content_type = response.headers.get("Content-Type", "")
        media_type = requested or content_type.split(";")[0].strip() or "application/octet-stream"
        data = response.content
        details: dict[str, Any] = {
            "content_type": content_type,
            "headers": {k: v for k, v in response.headers.items() if k.lower().startswith("x-star-")},
        }
        text = ""
        if media_type.startswith("text/"):
            text = data.decode("utf-8", errors="replace")
        elif media_type.startswith("image/"):
            details["image_size"] = png_size(data)

        printed = PrintedJob(job.token, media_type, data, text, details=details)
        code = self.confirm_code
        if code.startswith("2"):
            self._record_printed(printed)
            logger.info("Printed job printer=%s job=%s type=%s bytes=%d",
                        self.printer_id, job.token, media_type, len(data))
        else:
            self._record_failed(printed)
            logger.info("Simulated print failure printer=%s job=%s code=%r", self.printer_id, job.token, code)
        self._finish(job, code)

    # -- confirmation ----------------------------------------------------------------------------------

    def _finish(self, job: _JobInProgress, code: str) -> None:
        job.code = code
        if self.drop_confirmation:
            self._count("dropped_confirmations")
            logger.info("Dropping confirmation printer=%s job=%s", self.printer_id, job.token)
            return

        delay = self.confirm_delay
        if delay <= 0:
            self._send_confirmation(job)
            return

        job.due = time.monotonic() + delay
        with self._lock:
            self._in_progress = job

    def _due_confirmation(self) -> _JobInProgress | None:
        with self._lock:
            job = self._in_progress
        if job is not None and job.due <= time.monotonic():
            return job
        return None

    def next_wait(self) -> float:
        with self._lock:
            job = self._in_progress
        if job is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, job.due - time.monotonic()))

    def _send_confirmation(self, job: _JobInProgress) -> None:
        query = []
        if self.unique_id is not None:
            query.append(("uid", self.unique_id))
        query += [("mac", self.mac), ("code", job.code)]
        if job.token is not None:
            query.append(("token", job.token))
        url = _with_query(job.confirmation_url, query)
        if job.method == "GET":
            url += "&delete"

        job.attempts += 1
        try:
            response = self._session.request(
                job.method, url, headers={"User-Agent": self.user_agent}, timeout=self.request_timeout
            )
        except requests.RequestException as err:
            self._report_failure("confirmation", err)
            self._retry_confirmation(job)
            return

        with self._lock:
            self._in_progress = None
        self._count("confirmations")
        if response.status_code >= 300:
            self._report_failure("confirmation", f"HTTP {response.status_code}")
            return

        self._report_success()
        logger.info("Confirmed job printer=%s job=%s code=%r method=%s",
                    self.printer_id, job.token, job.code, job.method)

    def _retry_confirmation(self, job: _JobInProgress) -> None:
        with self._lock:
            if job.attempts >= _MAX_CONFIRMATION_ATTEMPTS:
                self._in_progress = None
                logger.warning("Giving up confirmation printer=%s job=%s after %d attempts",
                               self.printer_id, job.token, job.attempts)
                return
            job.due = time.monotonic() + self.poll_interval
            self._in_progress = job

    def _cleanup(self) -> None:
        auth = self._session.auth
        self._session.close()
        self._session = requests.Session()
        self._session.auth = auth


def _with_query(url: str, query: list[tuple[str, str]]) -> str:
    """Append `query` to `url`, keeping a query string the operator configured in the URL."""
    encoded = "&".join(f"{name}={quote(value, safe='/:')}" for name, value in query)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{encoded}"
