"""REST API under ``/api/v1``: bearer API keys, one JSON error shape, OpenAPI at ``/api/v1/openapi.json``."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from apiflask import APIBlueprint, HTTPTokenAuth
from flask import request

from fleet.accounts import authenticate
from fleet.models import Account
from fleet.ratelimit import RateLimiter, retry_after

log = logging.getLogger(__name__)

api = APIBlueprint("api_v1", __name__, url_prefix="/api/v1")
auth = HTTPTokenAuth(scheme="Bearer", description="API key from `printfleet account create NAME`")

RATE_LIMITER_KEY = "api_rate_limiter"


@api.before_request
def _rate_limit() -> Any:
    """Answer 429 with ``Retry-After`` when the caller (API key, else address) exceeds its rate."""
    from fleet.web import error_body, services

    container = services()
    limiter = container.extras.get(RATE_LIMITER_KEY)
    if limiter is None:
        limiter = container.extras.setdefault(
            RATE_LIMITER_KEY, RateLimiter(container.settings.api_rate_per_second, container.settings.api_rate_burst))
    header = request.headers.get("Authorization", "")
    key = hashlib.sha256(header.encode()).hexdigest() if header else f"addr:{request.remote_addr}"
    wait = limiter.acquire(key)
    if wait <= 0:
        return None
    log.warning("api rate limit exceeded addr=%s path=%s retry_after=%.1fs", request.remote_addr, request.path, wait)
    message = (f"Too many requests: at most {container.settings.api_rate_per_second:g} per second "
               f"(bursts of {container.settings.api_rate_burst}); retry after the Retry-After seconds")
    return error_body(429, "rate_limited", message), 429, {"Retry-After": retry_after(wait)}


@auth.verify_token
def _verify(token: str) -> Account | None:
    from fleet.web import services

    with services().db.session() as session:
        account = authenticate(session, token)
        if account is not None:
            session.expunge(account)
        return account


@auth.error_processor
def _auth_error(error):  # type: ignore[no-untyped-def]
    from fleet.web import error_body

    message = "Missing or invalid API key; send 'Authorization: Bearer <api key>'"
    return error_body(401, "unauthorized", message), 401, {"WWW-Authenticate": 'Bearer realm="printfleet"'}


def current_account() -> Account:
    user = auth.current_user
    assert isinstance(user, Account)
    return user


from fleet.api import account, audit, bulk, devices, groups, health, integrations, notifications, orders, printers, settings  # noqa: E402,F401  (registers the routes)
