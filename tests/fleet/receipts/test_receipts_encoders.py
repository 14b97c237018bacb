"""Tests for the ESC/POS, PNG and ePOS-Print receipt encoders."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage
from receipt_samples import make_order

from fleet.receipts.builder import (
    PrintSettings,
    ReceiptItem,
    ReceiptOrder,
    ReceiptProfile,
    build_order_receipt,
    build_test_receipt,
)
from fleet.receipts.document import (
    Align,
    Barcode,
    Buzzer,
    Cut,
    CutMode,
    Document,
    DrawerKick,
    Image,
    QRCode,
    Symbology,
    Text,
    TextStyle,
)
from fleet.receipts.encode_epos import EPOS_PRINT_NAMESPACE, encode_epos_xml, wrap_print_request
from fleet.receipts.encode_escpos import encode_escpos
from fleet.receipts.encode_png import encode_png, render_text_image
from fleet.receipts.encode_text import encode_text

ESC, GS, DLE = b"\x1b", b"\x1d", b"\x10"
NS = {"epos": EPOS_PRINT_NAMESPACE}
REPO_ROOT = Path(__file__).resolve().parents[3]

# An ESC/POS attack in every field: INIT, cut, real-time status request, C1 CSI, DEL.
_ATTACK = "\x1b@\x1dV\x00\x10\x04\x01\x1c&\x9b\x7f"


def _attacked(text: str) -> str:
    return f"{text[:2]}{_ATTACK}{text[2:]}"


def _stripped(text: str) -> str:
    # What clean_text leaves of the attack: its printable parameter bytes.
    return f"{text[:2]}@V&{text[2:]}"


def _order_with(wrap: Callable[[str], str]) -> tuple[ReceiptOrder, PrintSettings]:
    item = ReceiptItem(wrap("Pizza Margherita"), 2, Decimal("6.00"), wrap("no basil"))
    order = make_order(
        reference=wrap("A-1042"),
        order_type=wrap("delivery"),
        customer_name=wrap("Jürgen Müller"),
        customer_phone=wrap("+49 30 1234567"),
        items=(item,),
        notes=wrap("Ring twice"),
        status_url=wrap("https://shop.example/orders/A-1042"),
    )
    settings = PrintSettings(header=wrap("Trattoria Roma"), footer=wrap("Thank you!"), require_decision=True)
    return order, settings


_ENCODERS: dict[str, Callable[[Document, ReceiptProfile], bytes | str]] = {
    "text": lambda doc, profile: encode_text(doc, profile.columns),
    "escpos": encode_escpos,
    "png": lambda doc, profile: encode_png(doc, profile.print_width_dots),
    "epos": lambda doc, profile: encode_epos_xml(doc, profile.columns, profile.print_width_dots),
}


@pytest.mark.parametrize("encoder", list(_ENCODERS), ids=list(_ENCODERS))
def test_encoders_strip_injected_controls(encoder: str, profile_80mm_cp858: ReceiptProfile) -> None:
    attacked = build_order_receipt(*_order_with(_attacked), profile_80mm_cp858)
    reference = build_order_receipt(*_order_with(_stripped), profile_80mm_cp858)

    attacked_output = _ENCODERS[encoder](attacked, profile_80mm_cp858)
    reference_output = _ENCODERS[encoder](reference, profile_80mm_cp858)

    assert attacked_output == reference_output


def test_escpos_injected_controls_add_no_commands(profile_80mm_cp858: ReceiptProfile) -> None:
    attacked = encode_escpos(
        build_order_receipt(*_order_with(_attacked), profile_80mm_cp858), profile_80mm_cp858
    )
    reference = encode_escpos(
        build_order_receipt(*_order_with(_stripped), profile_80mm_cp858), profile_80mm_cp858
    )

    for control in (ESC, GS, DLE, b"\x1c", b"\x9b", b"\x7f"):
        assert attacked.count(control) == reference.count(control)


def test_text_output_has_no_controls(profile_80mm_cp858: ReceiptProfile) -> None:
    text = encode_text(build_order_receipt(*_order_with(_attacked), profile_80mm_cp858), 48)

    assert [char for char in text if (ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) <= 0x9F] == []


def test_escpos_starts_with_init(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_magic: ReceiptProfile
) -> None:
    output = encode_escpos(build_order_receipt(order, settings, profile_80mm_magic), profile_80mm_magic)

    assert output.startswith(ESC + b"@")


_ACCENTED = "Crème brûlée Müller Ñandú € Привет"


def test_escpos_cp858_accented(profile_80mm_cp858: ReceiptProfile) -> None:
    output = encode_escpos(Document((Text(_ACCENTED),)), profile_80mm_cp858)

    # ESC @, then ESC t 19 selects CP858 (Epson numbering).
    assert output.startswith(ESC + b"@" + ESC + b"t\x13")
    assert b"Cr\x8ame br\x96l\x82e M\x81ller \xa5and\xa3 \xd5 ??????\n" in output
    assert output.count(ESC + b"t") == 1


def test_escpos_magic_encoder_prints_cyrillic(profile_80mm_magic: ReceiptProfile) -> None:
    output = encode_escpos(Document((Text(_ACCENTED),)), profile_80mm_magic)

    assert "Привет".encode("cp866") in output
    assert ESC + b"t\x11" in output  # CP866
    assert b"??????" not in output
    assert b"M\x81ller" in output


def test_escpos_cjk_line_is_raster(profile_80mm_magic: ReceiptProfile) -> None:
    output = encode_escpos(Document((Text("Chef: 你好"), Text("after"))), profile_80mm_magic)

    assert "你好".encode("gb18030") not in output
    assert GS + b"v0" in output
    assert b"after\n" in output


def test_escpos_codes_cut_drawer_buzzer(profile_80mm_cp858: ReceiptProfile) -> None:
    doc = Document(
        (
            Buzzer(2),
            Barcode("JOB-{7}", Symbology.CODE128),
            Barcode("590123412345", Symbology.EAN13),
            QRCode("https://shop.example/o/1"),
            DrawerKick(5),
            Cut(CutMode.FULL),
        )
    )
    output = encode_escpos(doc, profile_80mm_cp858)

    assert ESC + b"B\x02\x02" in output
    assert GS + b"kI\x0a{BJOB-{{7}" in output
    assert GS + b"kC\x0d5901234123457" in output
    assert GS + b"(k\x1b\x001P0https://shop.example/o/1" in output
    assert ESC + b"p\x01" in output
    assert output.endswith(GS + b"V\x00")


def test_escpos_partial_cut(order: ReceiptOrder, profile_80mm_cp858: ReceiptProfile) -> None:
    output = encode_escpos(
        build_order_receipt(order, PrintSettings(), profile_80mm_cp858), profile_80mm_cp858
    )

    assert output.endswith(ESC + b"d\x06" + GS + b"V\x01")


def test_escpos_image_fits_printer(profile_80mm_cp858: ReceiptProfile) -> None:
    logo = PILImage.new("RGB", (1000, 200), "black")
    output = encode_escpos(Document((Image(logo),)), profile_80mm_cp858)

    # GS v 0, mode 0, 72 bytes (576 dots) per row.
    assert GS + b"v0\x00\x48\x00" in output


def test_escpos_unknown_codepage_raises() -> None:
    profile = ReceiptProfile("tiny", escpos_profile="simple", codepage="CP858")

    with pytest.raises(ValueError, match="code page 'CP858' is not available"):
        encode_escpos(Document((Text("x"),)), profile)


def test_escpos_unknown_profile_raises() -> None:
    with pytest.raises(ValueError, match="unknown python-escpos profile 'TM-NOPE'"):
        encode_escpos(Document((Text("x"),)), ReceiptProfile("bad", escpos_profile="TM-NOPE"))


def test_escpos_import_leaves_root_logger_alone(tmp_path: Path) -> None:
    script = (
        "import logging\n"
        "from fleet.receipts.document import Document, Text\n"
        "from fleet.receipts.builder import ReceiptProfile\n"
        "from fleet.receipts.encode_escpos import encode_escpos\n"
        "encode_escpos(Document((Text('x'),)), ReceiptProfile('p', escpos_profile='TM-T20II'))\n"
        "print(len(logging.getLogger().handlers))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=True
    )

    assert result.stdout.strip() == "0"
    assert list((tmp_path / ".cache" / "printfleet" / "escpos").glob("*.capabilities.pickle"))


@pytest.mark.parametrize("width", [576, 384], ids=["80mm", "58mm"])
def test_png_is_one_bit_at_print_width(order: ReceiptOrder, settings: PrintSettings, width: int) -> None:
    profile = ReceiptProfile("png", print_width_dots=width, columns=width // 12)
    data = encode_png(build_order_receipt(order, settings, profile), width)
    picture = PILImage.open(io.BytesIO(data))

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[24] == 1  # IHDR bit depth
    assert picture.mode == "1"
    assert picture.width == width
    assert picture.height > 400


def _ink(picture: PILImage.Image) -> int:
    return picture.convert("L").histogram()[0]


@pytest.mark.parametrize(
    "text", ["Crème brûlée", "Ñandú", "Привет", "Καλημέρα"], ids=["french", "spanish", "cyrillic", "greek"]
)
def test_png_renders_scripts(text: str) -> None:
    rendered = render_text_image(text, 576)
    placeholder = render_text_image("?" * len(text), 576)

    assert _ink(rendered) > 0
    assert rendered.tobytes() != placeholder.tobytes()


def test_png_styles_change_pixels() -> None:
    plain = render_text_image("Total", 576)

    for style in (TextStyle(bold=True), TextStyle(underline=True), TextStyle(invert=True)):
        assert render_text_image("Total", 576, style=style).tobytes() != plain.tobytes()
    assert render_text_image("Total", 576, style=TextStyle(double_height=True)).height == 2 * plain.height


def _ink_box(picture: PILImage.Image) -> tuple[int, int, int, int]:
    box = picture.convert("L").point(lambda value: 255 - value).getbbox()
    assert box is not None
    return box


def test_png_alignment_moves_text() -> None:
    assert _ink_box(render_text_image("X", 576, align=Align.LEFT))[0] < 12
    assert _ink_box(render_text_image("X", 576, align=Align.RIGHT))[2] > 576 - 12
    centre = _ink_box(render_text_image("X", 576, align=Align.CENTER))
    assert 576 // 2 - 12 < centre[0] < 576 // 2 + 12


def test_png_test_receipt_has_codes(profile_80mm_cp858: ReceiptProfile) -> None:
    from datetime import datetime

    doc = build_test_receipt(
        profile_80mm_cp858, printer_name="Kitchen", printed_at=datetime(2024, 5, 1, 9, 0)
    )
    picture = PILImage.open(io.BytesIO(encode_png(doc, 576)))

    assert picture.width == 576
    assert _ink(picture) > 5000


def _parse_epos(xml: str) -> ElementTree.Element:
    root = ElementTree.fromstring(xml)
    assert root.tag == f"{{{EPOS_PRINT_NAMESPACE}}}epos-print"
    return root


def test_epos_escapes_markup(profile_80mm_cp858: ReceiptProfile) -> None:
    hostile = "<script>&\"'"
    order = make_order(
        customer_name=hostile, items=(ReceiptItem(hostile, 1, Decimal("1.00"), hostile),), notes=hostile
    )
    xml = encode_epos_xml(build_order_receipt(order, PrintSettings(header=hostile), profile_80mm_cp858))
    root = _parse_epos(xml)
    texts = [element.text or "" for element in root.iterfind("epos:text", NS)]

    assert "<script>" not in xml
    assert "Customer: <script>&\"'\n" in texts
    assert "<script>&\"'\n" in texts
    assert f"1 x <script>&\"' {'.' * 27} 1.00\n" in texts


def test_epos_elements(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_cp858: ReceiptProfile
) -> None:
    blocks = build_order_receipt(order, settings, profile_80mm_cp858).blocks + (DrawerKick(2),)
    root = _parse_epos(encode_epos_xml(Document(blocks)))

    first_text = root.find("epos:text", NS)
    assert first_text is not None
    assert first_text.attrib == {
        "align": "center",
        "em": "true",
        "ul": "false",
        "dw": "false",
        "dh": "true",
        "reverse": "false",
    }
    assert root.find("epos:sound", NS).attrib == {"pattern": "pattern_a", "repeat": "2"}
    symbol = root.find("epos:symbol", NS)
    assert symbol.attrib["type"] == "qrcode_model_2"
    assert symbol.text == "https://shop.example/orders/A-1042"
    assert root.find("epos:cut", NS).attrib == {"type": "feed"}
    assert root.find("epos:pulse", NS).attrib == {"drawer": "drawer_1", "time": "pulse_100"}


def test_epos_barcode_and_image() -> None:
    doc = Document((Barcode("AB{1"), Image(PILImage.new("L", (20, 10), 0), Align.LEFT), Cut(feed=False)))
    root = _parse_epos(encode_epos_xml(doc, 48, 576))

    barcode = root.find("epos:barcode", NS)
    assert barcode.attrib["type"] == "code128"
    assert barcode.text == "{BAB{{1"
    image = root.find("epos:image", NS)
    assert image.attrib == {"width": "576", "height": "10", "color": "color_1", "mode": "mono"}
    raster = base64.b64decode(image.text)
    assert len(raster) == 72 * 10
    assert raster[0] == 0xFF  # the black picture starts each row: printed dots are 1
    assert raster[3] == 0x00
    assert root.find("epos:cut", NS).attrib == {"type": "no_feed"}


def test_epos_cjk_line_is_image() -> None:
    root = _parse_epos(encode_epos_xml(Document((Text("你好"),))))

    assert root.find("epos:text", NS) is None
    assert root.find("epos:image", NS) is not None


def test_wrap_print_request_blocks() -> None:
    epos = encode_epos_xml(Document((Text("Hello & <bye>"), Cut())))
    request = wrap_print_request(
        [("job-1", "local_printer", 10000, epos), ("job.2", "local_printer", 5000, epos)]
    )
    root = ElementTree.fromstring(request.encode())

    assert request.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert root.tag == "PrintRequestInfo"
    assert root.attrib == {"Version": "2.00"}
    jobs = root.findall("ePOSPrint")
    assert [job.findtext("Parameter/printjobid") for job in jobs] == ["job-1", "job.2"]
    assert [job.findtext("Parameter/timeout") for job in jobs] == ["10000", "5000"]
    assert jobs[0].findtext("Parameter/devid") == "local_printer"
    text = jobs[0].find("PrintData/epos:epos-print/epos:text", NS)
    assert text.text == "Hello & <bye>\n"
    assert "Envelope" not in request


@pytest.mark.parametrize(
    "job_id", ["", "x" * 31, "job 1", "job<1>"], ids=["empty", "too-long", "space", "markup"]
)
def test_wrap_print_request_rejects_job_id(job_id: str) -> None:
    with pytest.raises(ValueError, match="Print job id .* is invalid"):
        wrap_print_request([(job_id, "local_printer", 10000, encode_epos_xml(Document()))])


def test_wrap_print_request_rejects_soap() -> None:
    soap = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'

    with pytest.raises(ValueError, match="SOAP envelope is not accepted"):
        wrap_print_request([("job-1", "local_printer", 10000, soap)])


def test_escpos_cache_folder_created(tmp_path):
    """python-escpos fails to import when its pickle folder is missing, so the encoder creates it first."""
    cache = tmp_path / "cache"
    env = {key: value for key, value in os.environ.items() if key != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env["XDG_CACHE_HOME"] = str(cache)
    script = ("from fleet.receipts.encode_escpos import prepare_escpos_cache; prepare_escpos_cache(); "
              "import escpos.printer, os; print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    folder = cache / "printfleet" / "escpos"
    assert result.stdout.strip() == str(folder)
    assert any(folder.iterdir()), "python-escpos wrote no capabilities pickle into the folder"
