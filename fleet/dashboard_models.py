"""Tables of the dashboard area: the people who log in to the operator and support pages.

They live apart from :mod:`fleet.models` so the dashboard area migrates on its own Alembic branch
(``dashboard``, revision 0500).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.models import Account, Base, IdType, utcnow


class DashboardUser(Base):
    """A dashboard login scoped to one account, with one role (``operator``, ``support`` or ``admin``)."""

    __tablename__ = "dashboard_users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: Login name, stored lowercased; unique across all accounts so a login finds one user.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: werkzeug ``scrypt:`` hash with a random salt.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)

    account: Mapped[Account] = relationship()
