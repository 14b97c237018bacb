"""Accounts and their API keys. Keys are shown once and stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Account, ApiKey

log = logging.getLogger(__name__)

KEY_PREFIX = "pf"


@dataclass(frozen=True)
class NewAccount:
    account: Account
    #: The API key in clear text; it exists only in this object and is never stored.
    api_key: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_account(session: Session, name: str) -> NewAccount:
    """Create an account with its first API key and its device secrets."""
    if not name.strip():
        raise ValueError("account name is empty; give the shop or company name")
    account = Account(
        name=name.strip(),
        device_key=secrets.token_urlsafe(24),
        goodcom_code=str(secrets.randbelow(90_000_000) + 10_000_000),
        webhook_secret=secrets.token_urlsafe(32),
    )
    session.add(account)
    session.flush()
    key = issue_api_key(session, account)
    log.info("account created account=%s", account.id)
    return NewAccount(account, key)


def issue_api_key(session: Session, account: Account) -> str:
    """Create another API key for ``account`` and return it in clear text."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(account_id=account.id, prefix=prefix, key_hash=_digest(key)))
    session.flush()
    return key


def authenticate(session: Session, key: str) -> Account | None:
    """Return the account owning ``key``, or None when the key is unknown, malformed or revoked."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return row.account


def hash_device_password(password: str) -> str:
    """Hash a printer's device password (Goodcom ``p``); passwords are server-generated and random."""
    return _digest(password)


def check_device_password(stored: str | None, password: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, _digest(password))


#: Realm of the HTTP Digest challenge sent to Epson Server Direct Print printers.
DIGEST_REALM = "printfleet"


def digest_ha1(user: str, password: str, realm: str = DIGEST_REALM) -> str:
    """Return HA1 = MD5(user:realm:password) of RFC 7616, which Digest verification needs (MD5 by the RFC)."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()
