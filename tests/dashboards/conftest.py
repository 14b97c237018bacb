"""Fixtures of the dashboard tests: one running server per module, shops with dashboard users, logins."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from fleet.users import create_user
from tests.conftest import Running, running_instance

PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: Debian's Chromium, which the browser tests drive through Playwright (``.ci/run`` installs it).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Shop:
    """An account with an API client and one dashboard user."""

    account_id: int
    api: requests.Session
    email: str
    password: str = PASSWORD


@pytest.fixture(scope="module")
def running(module_database_url: str) -> Iterator[Running]:
    """One server per module on SQLite, and on PostgreSQL too when configured."""
    with running_instance(module_database_url, default_poll_interval_seconds=1) as instance:
        yield instance


def new_shop(instance: Running, name: str, email: str, role: str = "admin") -> Shop:
    account_id, api = instance.new_account(name)
    with instance.services.db.session() as session:
        create_user(session, account_id, email, role, PASSWORD)
    return Shop(account_id, api, email)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "page has no CSRF token field"
    return match.group(1)


def login(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    """Log in through the form; return the browser-like session holding the cookie."""
    client = requests.Session()
    page = client.get(f"{base}/dashboard/login", timeout=10)
    response = client.post(f"{base}/dashboard/login", data={"email": email, "password": password,
                                                            "csrf_token": csrf_token(page.text)},
                           timeout=10, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return client


def page_token(client: requests.Session, base: str) -> str:
    return csrf_token(client.get(f"{base}/dashboard/", timeout=10).text)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium with a fresh profile folder, shared by one module's tests."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
