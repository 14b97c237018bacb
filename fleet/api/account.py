"""The caller's own account: name, locale and time zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from fleet.api import api, auth, current_account
from fleet.api.schemas import Strict
from fleet.errors import InvalidInput
from fleet.models import Account
from fleet.web import services


class AccountPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: str | None = Field(default=None, min_length=2, max_length=16, description="e.g. en, de, fr")
    timezone: str | None = Field(default=None, max_length=64, description="IANA name, e.g. Europe/Berlin")


def _view(account: Account) -> dict[str, Any]:
    return {"id": account.id, "name": account.name, "locale": account.locale, "timezone": account.timezone,
            "created_at": account.created_at.isoformat()}


def check_timezone(name: str) -> str:
    """Return ``name`` when it is an IANA time zone; raise InvalidInput naming it otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("timezone", f"time zone {name!r} is unknown; use an IANA name such as Europe/Berlin") from None
    return name


@api.get("/account")
@api.auth_required(auth)
@api.doc(summary="Show the caller's account", responses=[401])
def get_account() -> dict[str, Any]:
    with services().read_db.session() as session:
        account = session.get(Account, current_account().id)
        assert account is not None
        return _view(account)


@api.patch("/account")
@api.auth_required(auth)
@api.input(AccountPatch, arg_name="body")
@api.doc(summary="Rename the account or set its locale and time zone", responses=[401, 422])
def patch_account(body: AccountPatch) -> dict[str, Any]:
    with services().db.session() as session:
        account = session.get(Account, current_account().id)
        assert account is not None
        if body.timezone is not None:
            account.timezone = check_timezone(body.timezone)
        if body.name is not None:
            account.name = body.name.strip()
        if body.locale is not None:
            account.locale = body.locale
        return _view(account)
