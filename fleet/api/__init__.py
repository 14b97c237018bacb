"""REST API under ``/api/v1``: bearer API keys, one JSON error shape, OpenAPI at ``/api/v1/openapi.json``."""

from __future__ import annotations

from apiflask import APIBlueprint, HTTPTokenAuth

from fleet.accounts import authenticate
from fleet.models import Account

api = APIBlueprint("api_v1", __name__, url_prefix="/api/v1")
auth = HTTPTokenAuth(scheme="Bearer", description="API key from `printfleet account create NAME`")


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
