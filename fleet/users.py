"""Dashboard users: creation, password check and roles.

Passwords are hashed with werkzeug's scrypt (random salt per hash). A login with an unknown email
still runs one hash check against a fixed dummy hash, so response time does not reveal which
emails exist.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from fleet.dashboard_models import DashboardUser
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.models import Account, utcnow

log = logging.getLogger(__name__)

#: Roles and what each may do. Operators run orders, support staff change printers, admins do both.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"view", "orders"}),
    "support": frozenset({"view", "printers"}),
    "admin": frozenset({"view", "orders", "printers"}),
}
ROLES = tuple(ROLE_PERMISSIONS)
MIN_PASSWORD_LENGTH = 12

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


class DuplicateUser(FleetError):
    status = 409
    code = "duplicate_user"


@dataclass(frozen=True)
class NewUser:
    user: DashboardUser
    #: The password in clear text when it was generated; shown once and never stored.
    password: str


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def create_user(session: Session, account_id: int, email: str, role: str, password: str | None = None) -> NewUser:
    """Create a dashboard user; generate a random password when none is given.

    Raises NotFound for an unknown account, InvalidInput for a bad email, role or short password,
    and DuplicateUser when the email is taken.
    """
    if session.get(Account, account_id) is None:
        raise NotFound(f"account {account_id} does not exist; create it with 'printfleet account create NAME'")
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidInput("email", f"email {email!r} is invalid; use an address such as ops@example.com")
    if role not in ROLE_PERMISSIONS:
        raise InvalidInput("role", f"role {role!r} is invalid; use one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"password is shorter than {MIN_PASSWORD_LENGTH} characters")

    clear = password or secrets.token_urlsafe(15)
    user = DashboardUser(account_id=account_id, email=email, password_hash=hash_password(clear), role=role)
    try:
        # Added inside the savepoint: begin_nested() flushes pending objects before the SAVEPOINT, so
        # a duplicate added earlier would fail outside it and roll back the whole transaction.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise DuplicateUser(f"a dashboard user with email {email} already exists") from None
    log.info("dashboard user created user=%s account=%s role=%s", user.id, account_id, role)
    return NewUser(user, clear)


def authenticate_user(session: Session, email: str, password: str, now: datetime | None = None) -> DashboardUser | None:
    """Return the active user with ``email`` and ``password``, or None; records the login time."""
    user = session.scalars(select(DashboardUser).where(DashboardUser.email == email.strip().lower())).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled_at is not None:
        log.info("dashboard login failed user=%s", user.id)
        return None
    user.last_login_at = now or utcnow()
    log.info("dashboard login user=%s account=%s", user.id, user.account_id)
    return user


def get_active_user(session: Session, user_id: int) -> DashboardUser | None:
    """Return the user with ``user_id`` unless it is missing or disabled."""
    user = session.get(DashboardUser, user_id)
    if user is None or user.disabled_at is not None:
        return None
    return user


def can(role: str, permission: str) -> bool:
    """Tell whether ``role`` grants ``permission`` (``view``, ``orders`` or ``printers``)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
