"""Dashboard login state, role checks and CSRF protection.

The Flask session (a signed cookie) holds the user id and a per-session CSRF token. Every request
reloads the user, so a disabled user or a changed role takes effect at once. Every POST to a
dashboard page must carry the token in the ``csrf_token`` form field or the ``X-CSRF-Token``
header; the session cookie is also ``SameSite=Lax``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, g, redirect, request, session, url_for

from fleet.models import Account
from fleet.users import can, get_active_user
from fleet.web import services

log = logging.getLogger(__name__)

CSRF_SESSION_KEY = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Viewer:
    """The logged-in dashboard user of the current request."""

    user_id: int
    account_id: int
    account_name: str
    email: str
    role: str

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


def csrf_token() -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Abort with 400 when a POST lacks the session's CSRF token."""
    if request.method != "POST":
        return
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), sent.encode()):
        log.warning("dashboard POST rejected: CSRF token missing or wrong path=%s user=%s",
                    request.path, session.get("user_id", "-"))
        abort(400, description="The form expired or did not come from this site. Reload the page and try again.")


def start_session(user_id: int) -> None:
    """Log ``user_id`` in: a fresh session with a new CSRF token, kept for the idle lifetime."""
    session.clear()
    session.permanent = True
    session["user_id"] = user_id
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


def end_session() -> None:
    session.clear()


def load_viewer() -> Viewer | None:
    """Return the logged-in user of this request (cached on ``g``), or None."""
    if "viewer" in g:
        return cast(Viewer | None, g.viewer)
    viewer = None
    user_id = session.get("user_id")
    if isinstance(user_id, int):
        with services().read_db.session() as db_session:
            user = get_active_user(db_session, user_id)
            if user is not None:
                account = db_session.get(Account, user.account_id)
                viewer = Viewer(user.id, user.account_id, account.name if account else "", user.email, user.role)
    if viewer is None and user_id is not None:
        session.clear()
    g.viewer = viewer
    return viewer


def current_viewer() -> Viewer:
    viewer = load_viewer()
    if viewer is None:
        abort(401)
    return viewer


def login_required(permission: str = "view") -> Callable[[F], F]:
    """Require a logged-in user whose role grants ``permission``; others get the login page or 403."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            viewer = load_viewer()
            if viewer is None:
                return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
            if not viewer.can(permission):
                abort(403, description=f"Your role ({viewer.role}) does not allow this; ask an admin.")
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorate
