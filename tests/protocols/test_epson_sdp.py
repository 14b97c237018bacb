"""Epson Server Direct Print endpoint, driven over real HTTP against a running printfleet server."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fleet import dispatch
from fleet.models import HealthEvent, Job, OrderEvent, Printer, QuarantinedPrinter
from protocols.epson_sdp import JOBS_PER_RESPONSE_KEY, NONCE_LIFETIME_SECONDS, make_nonce
from protocols.epson_sdp_xml import RESULT_CODE_TEXT, explain_result, parse_response_file, parse_status_notification
from protocols.simulators.epson_sdp import EpsonSdpSimulator
from tests.conftest import Running, register_printer, send_order
from tests.support.servers import wait_until

EPOS = "http://www.epson-pos.com/schemas/2011/03/epos-print"
WAIT = 30.0
#: Status of a healthy idle TM printer: print success, drawer kick and the always-set bits.
IDLE = 0x0F000016


class SdpPrinter:
    """One registered Epson printer and the form posts a TM printer would send."""

    def __init__(self, instance: Running, **settings_: Any) -> None:
        self.instance = instance
        _account_id, self.client = instance.new_account()
        body: dict[str, Any] = {"name": "Counter", "protocol": "epson_sdp"}
        if settings_:
            body["settings"] = settings_
        created = register_printer(self.client, instance.url, **body)
        self.id: int = created["id"]
        self.url: str = created["device"]["server_direct_print_url"]
        self.sdp_id: str = created["device"]["id"]
        self.password: str = created["device"]["digest_password"]

    def post(self, connection_type: str, auth: Any = None, **fields: str) -> requests.Response:
        form = {"ConnectionType": connection_type, "ID": self.sdp_id, **fields}
        return requests.post(self.url, data=form, auth=auth, timeout=10)

    def order(self, **fields: Any) -> int:
        response = send_order(self.client, self.instance.url, self.id, **fields)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def fetch(self) -> list[str]:
        """Send a GetRequest and return the printjobids of the jobs it got."""
        response = self.post("GetRequest")
        assert response.status_code == 200
        if not response.content:
            return []
        root = ElementTree.fromstring(response.content)
        return [element.text or "" for element in root.iter("printjobid")]

    def jobs(self) -> list[Job]:
        with self.instance.services.db.session() as session:
            return list(session.scalars(select(Job).where(Job.printer_id == self.id).order_by(Job.id)))

    def job(self, token: str) -> Job:
        return next(job for job in self.jobs() if job.token == token)

    def row(self) -> Printer:
        with self.instance.services.db.session() as session:
            printer = session.get(Printer, self.id)
            assert printer is not None
            return printer

    def health_events(self) -> list[tuple[str, str | None]]:
        with self.instance.services.db.session() as session:
            rows = session.scalars(select(HealthEvent).where(HealthEvent.printer_id == self.id).order_by(HealthEvent.id))
            return [(row.kind, row.condition) for row in rows]


def response_file(results: list[tuple[str | None, bool, str, int]], version: str = "2.00") -> str:
    """Build a PrintResponseInfo document with CRLF line ends, as TM printers send it."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<PrintResponseInfo Version="{version}">']
    for job_id, success, code, status in results:
        response = (f'<response xmlns="{EPOS}" success="{"true" if success else "false"}" code="{code}" '
                    f'status="{status}" battery="0"/>')
        if job_id is None:
            lines.append(response)
            continue
        lines += ["<ePOSPrint>", f"<Parameter><devid>local_printer</devid><printjobid>{job_id}</printjobid></Parameter>",
                  "<PrintResponse>", response, "</PrintResponse>", "</ePOSPrint>"]
    lines.append("</PrintResponseInfo>")
    return "\r\n".join(lines) + "\r\n"


def status_form(asb: int) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n<statusmonitor Version="1.00">\r\n'
            f'<printerstatus devicename="local_printer" asbstatus="0x{asb:08X}"/>\r\n</statusmonitor>\r\n')


def assert_empty_xml(response: requests.Response) -> None:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["Content-Length"] == "0"
    assert response.content == b""


# -- GetRequest -------------------------------------------------------------------------------------------


def test_get_request_empty_when_nothing_waits(instance: Running) -> None:
    printer = SdpPrinter(instance)

    response = printer.post("GetRequest", Name="X6WY351989")

    assert_empty_xml(response)
    assert printer.row().online is True
    assert printer.row().client_info["sdp_name"] == "X6WY351989"


def test_get_request_sends_version_2(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_devid="kitchen_printer")
    printer.order()
    token = printer.jobs()[0].token

    response = printer.post("GetRequest")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "PrintRequestInfo"
    assert root.get("Version") == "2.00"
    assert b"Envelope" not in response.content
    blocks = root.findall("ePOSPrint")
    assert len(blocks) == 1
    assert blocks[0].findtext("Parameter/printjobid") == token
    assert blocks[0].findtext("Parameter/devid") == "kitchen_printer"
    assert int(blocks[0].findtext("Parameter/timeout") or 0) > 0
    assert blocks[0].find(f"PrintData/{{{EPOS}}}epos-print") is not None
    assert printer.job(token).state == "fetched"


def test_get_request_never_resends_fetched_job(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()

    again = printer.fetch()
    with instance.services.db.session() as session:
        dispatch.mark_unconfirmed(session, timedelta(0))
    after_timeout = printer.fetch()

    assert again == []
    assert after_timeout == []
    assert printer.job(token).state == "unconfirmed"
    assert printer.job(token).fetch_count == 1


def test_get_request_batches_after_v2_result(instance: Running) -> None:
    instance.app.config[JOBS_PER_RESPONSE_KEY] = 2
    printer = SdpPrinter(instance)
    for _ in range(4):
        printer.order()

    first = printer.fetch()
    printer.post("SetResponse", ResponseFile=response_file([(first[0], True, "", IDLE)]))
    second = printer.fetch()
    third = printer.fetch()

    # Until a printer shows it returns printjobid, it gets one job per request.
    assert len(first) == 1
    assert len(second) == 2
    assert len(third) == 1
    assert len(set(first + second + third)) == 4


# -- SetResponse ------------------------------------------------------------------------------------------


def test_set_response_two_results_in_one_form(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printed_order, failed_order = printer.order(), printer.order()
    [good] = printer.fetch()
    [bad] = printer.fetch()
    document = response_file([(good, True, "", IDLE), (bad, False, "EPTR_COVER_OPEN", 0x0F000034)])

    response = printer.post("SetResponse", ResponseFile=document)

    assert_empty_xml(response)
    assert "\r\n" in document
    assert printer.job(good).state == "printed"
    assert printer.job(good).result_code is None
    assert printer.job(bad).state == "failed"
    assert printer.job(bad).result_code == "EPTR_COVER_OPEN"
    assert printer.client.get(f"{instance.url}/api/v1/orders/{printed_order}", timeout=10).json()["status"] == "printed"
    assert printer.client.get(f"{instance.url}/api/v1/orders/{failed_order}", timeout=10).json()["status"] == "failed"
    detail = printer.row().health_detail
    assert detail["last_result_code"] == "EPTR_COVER_OPEN"
    assert detail["last_result_text"] == RESULT_CODE_TEXT["EPTR_COVER_OPEN"]
    assert detail["asb"] == "0x0F000034"
    assert printer.row().conditions == ["cover_open"]


def test_set_response_v1_confirms_oldest_job(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    printer.order()
    [older] = printer.fetch()
    [newer] = printer.fetch()

    printer.post("SetResponse", ResponseFile=response_file([(None, False, "EPTR_REC_EMPTY", 0x0F0A001C)], "1.00"))

    assert printer.job(older).state == "failed"
    assert printer.job(older).result_code == "EPTR_REC_EMPTY"
    assert printer.job(newer).state == "fetched"
    assert printer.row().conditions == ["offline_bit", "paper_out"]
    assert printer.row().client_info["sdp_result_version"] == "1.00"


def test_set_response_version_3(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()
    document = "\r\n".join([
        '<?xml version="1.0" encoding="utf-8"?>',
        '<PrintResponseInfo Version="3.00">',
        ('<ServerDirectPrint><Response Success="true"><ErrorSummary></ErrorSummary><ErrorDetail></ErrorDetail>'
         "</Response></ServerDirectPrint>"),
        f"<ePOSPrint><Parameter><devid>local_printer</devid><printjobid>{token}</printjobid></Parameter>",
        (f'<PrintResponse><response xmlns="{EPOS}" success="1" code="" status="251854870" battery="0"/>'
         "</PrintResponse></ePOSPrint>"),
        ("<ePOSDisplay><Parameter><devid>local_display</devid></Parameter><DisplayResponse>"
         '<response xmlns="http://www.epson-pos.com/schemas/2012/09/epos-display" success="false" '
         'code="EDSP_NOT_FOUND" status="0"/></DisplayResponse></ePOSDisplay>'),
        "</PrintResponseInfo>", "",
    ])

    response = printer.post("SetResponse", ResponseFile=document)

    assert_empty_xml(response)
    assert printer.job(token).state == "printed"
    assert printer.row().conditions == ["paper_low"]
    assert printer.row().health_detail["last_result_text"] == "The job printed."
    assert ("raised", "paper_low") in printer.health_events()


def test_late_set_response_completes_once(instance: Running) -> None:
    printer = SdpPrinter(instance)
    order_id = printer.order()
    [token] = printer.fetch()
    job_id = printer.job(token).id
    with instance.services.db.session() as session:
        assert dispatch.mark_unconfirmed(session, timedelta(0)) == [job_id]
    document = response_file([(token, True, "", IDLE)])

    printer.post("SetResponse", ResponseFile=document)
    printer.post("SetResponse", ResponseFile=document)

    assert printer.job(token).state == "printed"
    with instance.services.db.session() as session:
        events = list(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id,
                                                               OrderEvent.event == "job_printed")))
    assert len(events) == 1
    assert events[0].detail["late"] is True


def test_set_response_repeated_changes_nothing(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()
    printer.post("SetResponse", ResponseFile=response_file([(token, False, "EX_TIMEOUT", 0x0F000014)]))
    finished_at = printer.job(token).finished_at

    printer.post("SetResponse", ResponseFile=response_file([(token, True, "", IDLE)]))

    assert printer.job(token).state == "failed"
    assert printer.job(token).result_code == "EX_TIMEOUT"
    assert printer.job(token).finished_at == finished_at


def test_set_response_unknown_code_says_so(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()

    printer.post("SetResponse", ResponseFile=response_file([(token, False, "EPTR_NEW_THING", 0x0F000014)]))

    assert printer.job(token).result_code == "EPTR_NEW_THING"
    assert "Unknown result code EPTR_NEW_THING" in printer.row().health_detail["last_result_text"]


# -- Bad input --------------------------------------------------------------------------------------------

XML_BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            '<PrintResponseInfo Version="2.00"><ePOSPrint><Parameter><printjobid>&lol2;</printjobid></Parameter>'
            '<PrintResponse><response success="true" code="" status="0"/></PrintResponse></ePOSPrint>'
            "</PrintResponseInfo>")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"ConnectionType": "SetResponse", "ResponseFile": "<PrintResponseInfo><ePOSPrint>"}, "not well-formed"),
    ({"ConnectionType": "SetResponse", "ResponseFile": XML_BOMB}, "DOCTYPE or ENTITY"),
    ({"ConnectionType": "SetResponse", "ResponseFile": "<soap:Envelope xmlns:soap='urn:x'/>"}, "root element"),
    ({"ConnectionType": "SetResponse"}, "has no ResponseFile"),
    ({"ConnectionType": "SetStatus", "Status": "<statusmonitor><printerstatus asbstatus='zz'/></statusmonitor>"},
     "not 32-bit hex"),
    ({"ConnectionType": "Hello"}, "ConnectionType"),
    ({"ConnectionType": "GetRequest", "ID": "bad id with spaces"}, "is invalid"),
], ids=["malformed", "entity-bomb", "wrong-root", "no-response-file", "bad-asb", "connection-type", "bad-id"])
def test_bad_input_changes_nothing(instance: Running, caplog: pytest.LogCaptureFixture, fields: dict[str, str],
                                   reason: str) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()
    before = printer.row()
    caplog.set_level(logging.WARNING, logger="protocols.epson_sdp")

    response = requests.post(printer.url, data={"ID": printer.sdp_id, **fields}, timeout=10)

    assert_empty_xml(response)
    assert reason in caplog.text
    assert printer.job(token).state == "fetched"
    after = printer.row()
    assert after.conditions == before.conditions
    assert after.health_detail == before.health_detail
    assert after.status_code == before.status_code
    with instance.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedPrinter)) == 0


def test_oversized_form_changes_nothing(instance: Running, caplog: pytest.LogCaptureFixture) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    [token] = printer.fetch()
    caplog.set_level(logging.WARNING, logger="protocols.epson_sdp")
    filler = "x" * (instance.services.settings.max_body_bytes + 1024)
    document = response_file([(token, True, "", IDLE)]).replace("</PrintResponseInfo>", f"<!--{filler}--></PrintResponseInfo>")

    response = printer.post("SetResponse", ResponseFile=document)

    assert_empty_xml(response)
    assert "HTTP 413" in caplog.text
    assert printer.job(token).state == "fetched"


def test_unknown_id_is_quarantined(instance: Running) -> None:
    printer = SdpPrinter(instance)

    first = requests.post(printer.url, data={"ConnectionType": "GetRequest", "ID": "stranger", "Name": "X3EL000754"},
                          timeout=10)
    second = requests.post(printer.url, data={"ConnectionType": "GetRequest", "ID": "stranger"}, timeout=10)

    assert_empty_xml(first)
    assert_empty_xml(second)
    listed = printer.client.get(f"{instance.url}/api/v1/quarantine", timeout=10).json()["printers"]
    assert [(row["protocol"], row["identifier"], row["probe_count"]) for row in listed] == [("epson_sdp", "stranger", 2)]
    assert listed[0]["detail"] == {"name": "X3EL000754"}


def test_unknown_device_key_ignored(instance: Running, caplog: pytest.LogCaptureFixture) -> None:
    printer = SdpPrinter(instance)
    caplog.set_level(logging.WARNING, logger="protocols.epson_sdp")

    response = requests.post(f"{instance.url}/epson/not-a-device-key",
                             data={"ConnectionType": "GetRequest", "ID": printer.sdp_id}, timeout=10)

    assert_empty_xml(response)
    assert "unknown device key" in caplog.text
    with instance.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedPrinter)) == 0


# -- SetStatus --------------------------------------------------------------------------------------------


def test_set_status_near_end_raises_paper_low(instance: Running) -> None:
    printer = SdpPrinter(instance)

    printer.post("SetStatus", Status=status_form(IDLE | 0x20000))
    printer.post("SetStatus", Status=status_form(IDLE | 0x20000))

    assert printer.row().conditions == ["paper_low"]
    assert printer.health_events().count(("raised", "paper_low")) == 1


def test_set_status_cover_open_then_closed(instance: Running) -> None:
    printer = SdpPrinter(instance)

    printer.post("SetStatus", Status=status_form(0x0F00003C))
    opened = printer.row().conditions
    printer.post("SetStatus", Status=status_form(IDLE))

    assert opened == ["cover_open", "offline_bit"]
    assert printer.row().conditions == []
    events = printer.health_events()
    assert ("raised", "cover_open") in events
    assert ("cleared", "cover_open") in events


def test_set_status_keeps_unknown_bits(instance: Running) -> None:
    printer = SdpPrinter(instance)

    printer.post("SetStatus", Status=status_form(IDLE | 0x00100000))

    detail = printer.row().health_detail
    assert detail["asb"] == "0x0F100016"
    assert detail["unknown_bits"] == "0x00100000"
    assert printer.row().conditions == []


def test_set_status_from_simulator(instance: Running) -> None:
    printer = SdpPrinter(instance)
    simulator = EpsonSdpSimulator(printer.url, printer.sdp_id)
    simulator.set_status("cover_open")

    assert simulator.send_status_notification(printer.url) == 200

    assert printer.row().conditions == ["cover_open", "offline_bit"]


# -- Digest authentication --------------------------------------------------------------------------------


def test_digest_auth_challenges_without_credentials(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_digest_auth=True)

    response = printer.post("GetRequest")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Digest realm="printfleet", qop="auth", nonce="')


def test_digest_auth_accepts_right_password(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_digest_auth=True)
    printer.order()
    auth = requests.auth.HTTPDigestAuth(printer.sdp_id, printer.password)

    response = printer.post("GetRequest", auth=auth)

    assert response.status_code == 200
    assert ElementTree.fromstring(response.content).findtext("ePOSPrint/Parameter/printjobid") == printer.jobs()[0].token


def test_digest_auth_refuses_wrong_password(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_digest_auth=True)
    printer.order()
    auth = requests.auth.HTTPDigestAuth(printer.sdp_id, printer.password + "x")

    response = printer.post("GetRequest", auth=auth)

    assert response.status_code == 401
    assert "nonce=" in response.headers["WWW-Authenticate"]
    assert printer.jobs()[0].state == "queued"


def test_digest_auth_stale_nonce_gets_new_challenge(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_digest_auth=True)
    with instance.app.app_context():
        nonce = make_nonce(time.time() - NONCE_LIFETIME_SECONDS - 60)
    uri = urlsplit(printer.url).path
    ha1 = hashlib.md5(f"{printer.sdp_id}:printfleet:{printer.password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"POST:{uri}".encode()).hexdigest()
    answer = hashlib.md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}".encode()).hexdigest()
    header = (f'Digest username="{printer.sdp_id}", realm="printfleet", nonce="{nonce}", uri="{uri}", '
              f'qop=auth, nc=00000001, cnonce="abc", response="{answer}", algorithm=MD5')

    response = requests.post(printer.url, data={"ConnectionType": "GetRequest", "ID": printer.sdp_id},
                             headers={"Authorization": header}, timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].endswith("stale=true")
    assert nonce not in response.headers["WWW-Authenticate"]


# -- End to end with the simulator ------------------------------------------------------------------------


def test_simulator_prints_markup_literally(instance: Running) -> None:
    printer = SdpPrinter(instance, sdp_digest_auth=True)
    markup = "<script>&\"'"
    order_id = printer.order(customer={"name": markup, "phone": "&amp;"})
    simulator = EpsonSdpSimulator(printer.url, printer.sdp_id, name="X6WY351989", poll_interval=0.2,
                                  digest_auth=(printer.sdp_id, printer.password))
    simulator.start()
    try:
        assert simulator.wait_for(lambda: len(simulator.printed) == 1, WAIT), simulator.counters
        wait_until(lambda: printer.jobs()[0].state == "printed", WAIT)
    finally:
        simulator.stop()

    printed = simulator.printed[0]
    assert printed.job_id == printer.jobs()[0].token
    assert markup in printed.text
    assert "&amp;" in printed.text
    assert b"&lt;script&gt;&amp;" in printed.data
    order = printer.client.get(f"{instance.url}/api/v1/orders/{order_id}", timeout=10).json()
    assert order["status"] == "printed"


def test_simulator_version_1_prints_each_job(instance: Running) -> None:
    printer = SdpPrinter(instance)
    printer.order()
    printer.order()
    simulator = EpsonSdpSimulator(printer.url, printer.sdp_id, poll_interval=0.2, result_version="1.00")
    simulator.start()
    try:
        assert simulator.wait_for(lambda: len(simulator.printed) == 2, WAIT), simulator.counters
        wait_until(lambda: all(job.state == "printed" for job in printer.jobs()), WAIT)
    finally:
        simulator.stop()

    # One job per print request, because a Version 1.00 result cannot name the job it belongs to.
    assert simulator.counters["fetches"] == 2
    assert [job.fetch_count for job in printer.jobs()] == [1, 1]


def test_simulator_failure_code_stored(instance: Running) -> None:
    printer = SdpPrinter(instance)
    order_id = printer.order()
    simulator = EpsonSdpSimulator(printer.url, printer.sdp_id, poll_interval=0.2)
    simulator.set_status("paper_end")
    simulator.start()
    try:
        assert simulator.wait_for(lambda: len(simulator.failed) == 1, WAIT), simulator.counters
        wait_until(lambda: printer.jobs()[0].state == "failed", WAIT)
    finally:
        simulator.stop()

    assert printer.jobs()[0].result_code == "EPTR_REC_EMPTY"
    assert printer.row().conditions == ["offline_bit", "paper_out"]
    assert printer.row().health_detail["last_result_text"] == RESULT_CODE_TEXT["EPTR_REC_EMPTY"]
    order = printer.client.get(f"{instance.url}/api/v1/orders/{order_id}", timeout=10).json()
    assert order["status"] == "failed"


# -- Parsers ----------------------------------------------------------------------------------------------


def test_explain_result_covers_codes() -> None:
    assert explain_result(True, None) == "The job printed."
    assert explain_result(False, "EPTR_REC_EMPTY") == "The printer is out of paper; load a new roll."
    assert explain_result(False, None) == "The printer reported a failure without a result code."


def test_parse_response_file_keeps_valid_entries() -> None:
    document = response_file([("job-1", True, "", IDLE), ("bad id!", True, "", IDLE), ("job-2", False, "X", 1)])

    parsed = parse_response_file(document.replace('success="false"', 'success="maybe"'))

    assert [(r.printjobid, r.success, r.asb) for r in parsed.results] == [("job-1", True, IDLE)]
    assert len(parsed.skipped) == 2
    assert parsed.problem is None


_XML_PIECES = st.sampled_from([
    "<PrintResponseInfo", ' Version="2.00"', ">", "</PrintResponseInfo>", "<ePOSPrint>", "</ePOSPrint>",
    "<printjobid>", "</printjobid>", "<response", ' success="true"', ' success="0"', ' status="-1"',
    ' status="99999999999"', ' code="&amp;"', "/>", "<!DOCTYPE x>", "&lol;", "\r\n", "abc", "\x00", "\ud800",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(_XML_PIECES, max_size=30).map("".join)))
def test_parse_response_file_never_raises(text: str) -> None:
    parsed = parse_response_file(text)

    assert (parsed.problem is None) == bool(parsed.results or parsed.request_error)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_status_notification_never_raises(text: str) -> None:
    parsed = parse_status_notification(f'<statusmonitor><printerstatus asbstatus="{text}"/></statusmonitor>')

    assert parsed.asb is None or 0 <= parsed.asb <= 0xFFFFFFFF
