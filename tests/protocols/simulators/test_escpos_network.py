"""Tests of the ESC/POS TCP printer simulator against python-escpos, and of the simulators' parsers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

# python-escpos caches its capability profiles in this directory when it is imported.
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", tempfile.mkdtemp(prefix="escpos-capabilities-"))

import pytest
from escpos.printer import Network
from hypothesis import given
from hypothesis import strategies as st

from protocols.simulators.cloudprnt import asb_status
from protocols.simulators.epson_sdp import (
    EposJob,
    EpsonSdpSimulator,
    PrintRequest,
    parse_print_request,
)
from protocols.simulators.escpos_network import EscposNetworkPrinter, EscposParser
from protocols.simulators.goodcom import GoodcomOrder, parse_order

WAIT = 20.0


@pytest.fixture
def printer() -> Iterator[EscposNetworkPrinter]:
    simulator = EscposNetworkPrinter()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(printer: EscposNetworkPrinter) -> Iterator[Network]:
    network = Network("127.0.0.1", printer.port, timeout=WAIT)
    yield network
    network.close()


def _finished_job(printer: EscposNetworkPrinter, client: Network, count: int = 1):
    client.close()
    assert printer.wait_for(lambda: len(printer.jobs) >= count, WAIT), "connection was never recorded"
    return printer.jobs[count - 1]


# -- ESC/POS printer against python-escpos ---------------------------------------------------------------


def test_escpos_printer_decodes_cp858_accents(printer: EscposNetworkPrinter, client: Network) -> None:
    client.charcode("CP858")
    client.text("Crème brûlée 4,50€\nÀ bientôt\n")

    job = _finished_job(printer, client)

    assert job.lines == ["Crème brûlée 4,50€", "À bientôt"]
    assert b"\x1bt\x13" in job.raw


def test_escpos_printer_switches_code_pages_mid_line(printer: EscposNetworkPrinter, client: Network) -> None:
    client.text("Grüße Привет\n")

    job = _finished_job(printer, client)

    assert job.lines == ["Grüße Привет"]


def test_escpos_printer_records_cut(printer: EscposNetworkPrinter, client: Network) -> None:
    client.text("Table 4\n")
    client.cut()

    job = _finished_job(printer, client)

    assert job.cuts == 1
    assert job.lines == ["Table 4"]
    assert printer.printed[0].text == "Table 4"


def test_escpos_printer_records_qr_and_barcode(printer: EscposNetworkPrinter, client: Network) -> None:
    client.qr("https://example.com/o/42", native=True)
    client.barcode("4006381333931", "EAN13")

    job = _finished_job(printer, client)

    assert job.qr_codes == [b"https://example.com/o/42"]
    assert job.barcodes == [b"4006381333931"]
    assert job.lines == []


@pytest.mark.parametrize(("paper", "expected"), [("ok", 2), ("near_end", 1), ("out", 0)])
def test_escpos_paper_status_follows_sensor(
    printer: EscposNetworkPrinter, client: Network, paper: str, expected: int
) -> None:
    printer.set_paper(paper)

    assert client.paper_status() == expected


def test_escpos_is_online_false_with_cover_open(printer: EscposNetworkPrinter, client: Network) -> None:
    assert client.is_online() is True

    printer.set_cover_open(True)
    assert client.is_online() is False

    printer.set_cover_open(False)
    assert client.is_online() is True


def test_escpos_is_online_false_when_paper_out(printer: EscposNetworkPrinter, client: Network) -> None:
    printer.set_paper("out")

    assert client.is_online() is False


def test_escpos_printer_serves_connections_in_turn(printer: EscposNetworkPrinter) -> None:
    for number in (1, 2):
        network = Network("127.0.0.1", printer.port, timeout=WAIT)
        network.text(f"ticket {number}\n")
        network.close()

    assert printer.wait_for(lambda: len(printer.jobs) == 2, WAIT)
    assert [job.lines for job in printer.jobs] == [["ticket 1"], ["ticket 2"]]
    assert printer.counters["connections"] == 2


def test_escpos_printer_stop_closes_open_connection() -> None:
    simulator = EscposNetworkPrinter()
    simulator.start()
    network = Network("127.0.0.1", simulator.port, timeout=WAIT)
    network.text("half a ticket")
    # The status reply proves the printer has read everything sent before it.
    assert network.is_online() is True

    simulator.stop()

    assert not simulator.running
    assert simulator.jobs[0].lines == ["half a ticket"]
    network.close()


# -- ESC/POS stream parser -------------------------------------------------------------------------------


def _parse(stream: bytes, status: int = 0x12) -> tuple[EscposParser, bytes]:
    parser = EscposParser(lambda n: bytes([status]), lambda: b"\x00")
    replies = parser.feed(stream)
    parser.close()
    return parser, replies


def test_escpos_parser_skips_raster_image_data() -> None:
    # GS v 0: 1 byte per row, 3 rows, whose data looks like LF and DLE EOT 1.
    stream = b"A\n\x1dv0\x00\x01\x00\x03\x00\x10\x04\x01B\n"

    parser, replies = _parse(stream)

    assert parser.lines == ["A", "B"]
    assert parser.images == 1
    assert parser.status_requests == []
    assert replies == b""


def test_escpos_parser_answers_status_requests() -> None:
    parser, replies = _parse(b"\x10\x04\x01\x10\x04\x04", status=0x1E)

    assert parser.status_requests == [1, 4]
    assert replies == b"\x1e\x1e"


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=17))
def test_escpos_parser_split_stream_matches_whole(stream: bytes, chunk: int) -> None:
    whole, whole_replies = _parse(stream)

    split = EscposParser(lambda n: b"\x12", lambda: b"\x00")
    split_replies = b"".join(split.feed(stream[i:i + chunk]) for i in range(0, len(stream), chunk))
    split.close()

    assert split.lines == whole.lines
    assert split.cuts == whole.cuts
    assert split.status_requests == whole.status_requests
    assert split_replies == whole_replies


# -- Goodcom order parser ------------------------------------------------------------------------------

# Values never contain the separators; "%" is left out because "%%" encodes a newline.
_value_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="#*;%\r"), max_size=20
)
_nonempty_text = _value_text.filter(lambda value: value.strip() != "")


def _encode_value(value: str) -> str:
    return value.replace("\n", "%%")


def _encode_order(order: GoodcomOrder) -> str:
    """Build the GcAPI order text: every value followed by its separator."""
    lines = []
    for index, (quantity, name, amount) in enumerate(order.items):
        lines.append(f"{quantity};{_encode_value(name)};{_encode_value(amount)};")
        for item, text, amount in order.options:
            if item == index:
                lines.append(f"{_encode_value(text)};;{_encode_value(amount)};")
    fees = "".join(f"{_encode_value(order.fees[name])};" for name in (
        "total_fees", "subtotal", "fee", "discount_amount", "discount_taxes",
        "delivery_charges", "delivery_taxes", "extra_fee_amount", "total_taxes"))
    totals = "".join(f"{_encode_value(value)};" for value in (
        order.total, order.verify_type, order.payment_status, order.customer_name, order.customer_address,
        order.customer_phone, order.request_time, order.previous_orders, order.paid_type, order.payment_info))
    tail = f"{_encode_value(order.payment_cash)};{_encode_value(order.comment)};"
    return (f"#{_encode_value(order.res_id)}*{order.delivery_type}*{_encode_value(order.order_id)}*"
            f"{''.join(lines)}*{fees}*{totals}*{tail}#\r\n")


@st.composite
def _orders(draw: st.DrawFn) -> GoodcomOrder:
    items = draw(st.lists(st.tuples(st.integers(1, 99), _nonempty_text, _value_text), max_size=5))
    options = []
    for index in range(len(items)):
        for text, amount in draw(st.lists(st.tuples(_nonempty_text, _value_text), max_size=2)):
            options.append((index, text, amount))
    fee_names = ("total_fees", "subtotal", "fee", "discount_amount", "discount_taxes",
                 "delivery_charges", "delivery_taxes", "extra_fee_amount", "total_taxes")
    delivery_type = draw(st.sampled_from([1, 2, 3]))
    return GoodcomOrder(
        res_id=draw(st.from_regex(r"[0-9]{1,8}", fullmatch=True)),
        delivery_type=delivery_type,
        order_id=draw(st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)),
        items=items,
        options=options,
        fees={name: draw(_value_text) for name in fee_names},
        total=draw(_value_text),
        verify_type=draw(_value_text),
        payment_status=draw(_value_text),
        customer_name=draw(_value_text),
        customer_address=draw(_value_text),
        customer_phone=draw(_value_text),
        request_time=draw(_value_text),
        previous_orders=draw(_value_text),
        paid_type=draw(_value_text),
        payment_info=draw(_value_text),
        payment_cash=draw(_value_text),
        comment=draw(_value_text),
        layout="gcapi",
        delivery_type_text=str(delivery_type),
    )


@given(st.text(max_size=400))
def test_goodcom_parse_order_never_raises(text: str) -> None:
    result = parse_order(text)

    assert result is None or isinstance(result, GoodcomOrder)


@given(st.text(alphabet="#*;%12ab\r\n ", max_size=200))
def test_goodcom_parse_order_never_raises_on_separators(text: str) -> None:
    result = parse_order(text)

    assert result is None or isinstance(result, GoodcomOrder)


@given(_orders())
def test_goodcom_parse_order_round_trip(order: GoodcomOrder) -> None:
    assert parse_order(_encode_order(order)) == order


def test_goodcom_parse_order_reads_fcs10_example() -> None:
    text = ("#5*1*123*2,prawn,8;3,Chicken,4.5;1,lamb,8*1.00;0.50;22;4;eric_chen;111,5 Ave;"
            "20:15 16-09-2012;20;6;paypal;0791234567;* can I have soy sauce?#")

    order = parse_order(text)

    assert order is not None
    assert order.layout == "fcs10"
    assert order.order_id == "123"
    assert order.items == [(2, "prawn", "8"), (3, "Chicken", "4.5"), (1, "lamb", "8")]
    assert order.total == "22"
    assert order.customer_phone == "0791234567"
    assert order.fees == {"delivery_charges": "1.00", "card_fee": "0.50"}
    assert order.comment == " can I have soy sauce?"


@pytest.mark.parametrize("text", ["", "garbage", "#!*P*Authentication error!\r\n", "#1*2#", "{\"id\": 3}"])
def test_goodcom_parse_order_rejects_non_orders(text: str) -> None:
    assert parse_order(text) is None


# -- Epson PrintRequestInfo parser -------------------------------------------------------------------------

_PRINT_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<PrintRequestInfo Version="2.00">\n'
    "<ePOSPrint><Parameter><devid>local_printer</devid><timeout>10000</timeout>"
    "<printjobid>ABC123</printjobid></Parameter><PrintData>"
    '<epos-print xmlns="http://www.epson-pos.com/schemas/2011/03/epos-print">'
    '<text>Table 4&#10;</text><feed line="2"/><cut type="feed"/></epos-print></PrintData></ePOSPrint>\n'
    "<ePOSPrint><Parameter><devid>local_printer</devid><printjobid>ABC124</printjobid></Parameter>"
    '<PrintData><epos-print xmlns="http://www.epson-pos.com/schemas/2011/03/epos-print">'
    "<text>Crème brûlée&#10;</text></epos-print></PrintData></ePOSPrint>\n"
    "</PrintRequestInfo>\n"
)


def test_epson_parse_print_request_reads_jobs() -> None:
    request = parse_print_request(_PRINT_REQUEST.encode())

    assert request is not None
    assert request.version == "2.00"
    assert [job.job_id for job in request.jobs] == ["ABC123", "ABC124"]
    assert request.jobs[0].text == "Table 4\n\n\n"
    assert request.jobs[0].cuts == 1
    assert request.jobs[0].timeout_ms == 10000
    assert request.jobs[1].text == "Crème brûlée\n"


@given(st.integers(min_value=0, max_value=len(_PRINT_REQUEST)))
def test_epson_parse_print_request_truncated_never_raises(cut: int) -> None:
    result = parse_print_request(_PRINT_REQUEST[:cut])

    assert result is None or isinstance(result, PrintRequest)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_epson_parse_print_request_never_raises(document: str | bytes) -> None:
    result = parse_print_request(document)

    assert result is None or isinstance(result, PrintRequest)


def test_epson_response_file_reports_cover_open() -> None:
    simulator = EpsonSdpSimulator("http://127.0.0.1/epson/key", "tm1")
    job = EposJob(devid="local_printer", timeout_ms=None, job_id="ABC123", document="", text="")

    response = simulator.response_file([(job, "EPTR_COVER_OPEN")])

    assert response.endswith("</PrintResponseInfo>\r\n")
    assert "\n" not in response.replace("\r\n", "")
    assert "<printjobid>ABC123</printjobid>" in response
    assert 'success="false" code="EPTR_COVER_OPEN"' in response
    assert f'status="{0x0F000016 & ~0x2 | 0x20 | 0x8}"' in response


def test_cloudprnt_asb_status_uses_unpadded_hex() -> None:
    assert asb_status("ok") == "23 6 0 0 0 0 0 0 0 "
    assert asb_status("cover_open") == "23 6 28 0 0 0 0 0 0 "
