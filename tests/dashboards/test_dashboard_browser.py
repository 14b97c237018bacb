"""The dashboards in Chromium (Playwright): live fleet state, accept with ETA seen on the customer
page, HTML in orders shown as text, CSRF, and screenshots of the main pages as test artefacts.

One server, one simulated CloudPRNT printer and one browser serve the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet.app import shutdown
from fleet.models import QuarantinedPrinter, utcnow
from protocols.simulators.cloudprnt import CloudPrntSimulator
from tests.conftest import Running, register_printer, send_order, start_instance
from tests.dashboards.conftest import ARTIFACTS, CHROMIUM, PASSWORD, Shop, new_shop

#: Generous waits in milliseconds: the offline sweep alone needs 2 × poll interval + 5 s.
LIVE_TIMEOUT_MS = 45_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run installs it)"),
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'printfleet.db'}"
    instance = start_instance(url, default_poll_interval_seconds=1)
    yield instance
    instance.server.stop()
    shutdown(instance.app)


@pytest.fixture(scope="module")
def shop(live_server: Running) -> Shop:
    return new_shop(live_server, "Bistro <Zoë>", "ops@example.com")


@pytest.fixture(scope="module")
def kitchen(live_server: Running, shop: Shop) -> Iterator[tuple[dict[str, Any], CloudPrntSimulator]]:
    printer = register_printer(shop.api, live_server.url, name="Kitchen", protocol="cloudprnt", mac="00:11:62:0e:15:58")
    simulator = CloudPrntSimulator(printer["device"]["cloudprnt_url"], printer["mac"], poll_interval=0.5)
    simulator.start()
    yield printer, simulator
    simulator.stop()


@pytest.fixture(scope="module")
def operator_page(browser: Any, live_server: Running, shop: Shop) -> Any:
    page = browser.new_page()
    page.goto(f"{live_server.url}/dashboard/")
    page.fill("input[name=email]", shop.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    return page


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _mark_page(page: Any) -> None:
    """Set a marker that a reload would wipe, to prove an update arrived without one."""
    page.evaluate("window.__noReload = true")


def _not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__noReload === true"))


def test_browser_printer_goes_offline_and_back_live(operator_page: Any, live_server: Running, kitchen: Any) -> None:
    from playwright.sync_api import expect

    printer, simulator = kitchen
    page = operator_page
    page.goto(f"{live_server.url}/dashboard/")
    badge = page.locator(f'tr[data-printer-id="{printer["id"]}"] [data-role="state"]')
    expect(page.locator("#live-state")).to_have_text("live", timeout=LIVE_TIMEOUT_MS)
    expect(badge).to_have_text("ok", timeout=LIVE_TIMEOUT_MS)
    _mark_page(page)
    _screenshot(page, "fleet")

    simulator.go_offline()
    expect(badge).to_have_text("offline", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator('[data-count="offline"]')).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    assert _not_reloaded(page)

    simulator.come_online()
    expect(badge).to_have_text("ok", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator('[data-count="offline"]')).to_have_text("0", timeout=LIVE_TIMEOUT_MS)
    assert _not_reloaded(page)

    page.goto(f"{live_server.url}/dashboard/printers/{printer['id']}")
    expect(page.locator("svg.plot")).to_be_visible()
    expect(page.get_by_text("went_offline")).to_be_visible()
    _screenshot(page, "printer")


def test_browser_accept_with_eta_updates_customer_page(browser: Any, operator_page: Any, live_server: Running,
                                                      shop: Shop, kitchen: Any) -> None:
    from playwright.sync_api import expect

    printer, simulator = kitchen
    order = send_order(shop.api, live_server.url, printer["id"], external_id="WEB-1").json()
    simulator.wait_for(lambda: any(job for job in simulator.printed), timeout=30)

    customer = browser.new_page()
    customer.goto(order["status_url"])
    expect(customer.locator("#status-text")).to_have_text("Waiting for the restaurant to confirm", timeout=LIVE_TIMEOUT_MS)
    _mark_page(customer)

    page = operator_page
    page.goto(f"{live_server.url}/dashboard/orders")
    row = page.locator(f'tr[data-order-id="{order["id"]}"]')
    expect(row.locator('[data-role="status"]')).to_have_text("printed", timeout=LIVE_TIMEOUT_MS)
    _screenshot(page, "orders")
    row.locator("input[name=eta_minutes]").fill("35")
    row.locator('form[data-action="accept"] button').click()
    expect(page.locator(".flash")).to_contain_text("accept done")

    expect(customer.locator("#status-text")).to_have_text("Accepted", timeout=LIVE_TIMEOUT_MS)
    expect(customer.locator("#notice")).to_have_text("Update: Accepted")
    expect(customer.locator("#eta-line")).to_be_visible()
    assert _not_reloaded(customer)
    _screenshot(customer, "customer-order")

    page.goto(f"{live_server.url}/dashboard/orders/{order['id']}")
    receipt = page.locator("img.receipt")
    expect(receipt).to_be_visible()
    assert page.evaluate("document.querySelector('img.receipt').naturalWidth") == 576
    _screenshot(page, "order-detail")
    customer.close()


def test_browser_order_html_shows_as_text(browser: Any, operator_page: Any, live_server: Running, shop: Shop,
                                          kitchen: Any) -> None:
    from playwright.sync_api import expect

    printer, _ = kitchen
    script = "<script>window.__pwned = 1</script>"
    image = '<img src=x onerror="window.__pwned = 2">'
    order = send_order(shop.api, live_server.url, printer["id"], external_id="<b>X-1</b>", notes=script,
                       items=[{"name": image, "quantity": 1, "unit_price": "2.00"}], total="2.00",
                       customer={"name": "<i>Mallory</i>"}).json()

    page = operator_page
    page.goto(f"{live_server.url}/dashboard/orders")
    row = page.locator(f'tr[data-order-id="{order["id"]}"]')
    expect(row).to_contain_text("<b>X-1</b>")
    expect(row).to_contain_text(image)
    expect(row).to_contain_text("<i>Mallory</i>")
    # A live event refreshes the fragment; the refreshed rows must stay text as well.
    shop.api.post(f"{live_server.url}/api/v1/orders/{order['id']}/reject", json={"reason": script}, timeout=10)
    expect(row.locator('[data-role="status"]')).to_have_text("rejected", timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text(script)

    page.goto(f"{live_server.url}/dashboard/orders/{order['id']}")
    expect(page.locator("dd.notes")).to_have_text(script)

    customer = browser.new_page()
    customer.goto(order["status_url"])
    expect(customer.locator("#reason-text")).to_have_text(script)
    expect(customer.locator("ul.items")).to_contain_text(image)
    assert customer.evaluate("window.__pwned === undefined")
    assert page.evaluate("window.__pwned === undefined")
    customer.close()


def test_browser_other_account_pages_are_not_found(browser: Any, operator_page: Any, live_server: Running) -> None:
    other = new_shop(live_server, "Other shop", "other@example.com")
    printer = register_printer(other.api, live_server.url, name="Other printer", protocol="cloudprnt",
                               mac="00:11:62:0e:15:99")
    order = send_order(other.api, live_server.url, printer["id"]).json()

    page = operator_page
    assert page.goto(f"{live_server.url}/dashboard/printers/{printer['id']}").status == 404
    assert page.goto(f"{live_server.url}/dashboard/orders/{order['id']}").status == 404
    page.goto(f"{live_server.url}/dashboard/?q=other")
    assert page.locator("tr[data-printer-id]").count() == 0


def test_browser_post_without_csrf_token_is_rejected(operator_page: Any, live_server: Running, shop: Shop,
                                                    kitchen: Any) -> None:
    printer, _ = kitchen
    order = send_order(shop.api, live_server.url, printer["id"]).json()
    response = operator_page.request.post(f"{live_server.url}/dashboard/orders/{order['id']}/cancel",
                                          form={"next": "/dashboard/orders"}, max_redirects=0)
    assert response.status == 400
    status = shop.api.get(f"{live_server.url}/api/v1/orders/{order['id']}", timeout=10).json()["status"]
    assert status != "cancelled"


def test_browser_support_pages_screenshots(operator_page: Any, live_server: Running, shop: Shop, kitchen: Any) -> None:
    from playwright.sync_api import expect

    printer, _ = kitchen
    with live_server.services.db.session() as session:
        session.add(QuarantinedPrinter(account_id=shop.account_id, protocol="cloudprnt", identifier="00:11:62:0e:15:77",
                                       remote_addr="127.0.0.1", detail={}, first_seen_at=utcnow(), last_seen_at=utcnow()))
    page = operator_page
    page.goto(f"{live_server.url}/dashboard/quarantine")
    expect(page.get_by_text("00:11:62:0e:15:77")).to_be_visible()
    _screenshot(page, "quarantine")

    page.goto(f"{live_server.url}/dashboard/printers/{printer['id']}/settings")
    page.locator("select[name=cut]").select_option("full")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator('tr[data-setting="cut"] td.after')).to_have_text("full")
    _screenshot(page, "settings-preview")
