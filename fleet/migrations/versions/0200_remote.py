"""Remote operation: settings twin and versions, groups, tags, sites, bulk operations, audit log

Revision ID: 0200
Revises: 0001
Create Date: 2026-12-05 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.models

revision = "0200"
down_revision = "0001"
branch_labels = ("remote",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = fleet.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "printer_settings_twin",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("desired", sa.JSON(), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("reported", sa.JSON(), nullable=False),
        sa.Column("reported_version", sa.Integer(), nullable=False),
        sa.Column("reported_at", _TIME, nullable=True),
        sa.Column("push_state", sa.JSON(), nullable=False),
        sa.Column("profile_override", sa.String(length=64), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id"),
    )
    op.create_table(
        "printer_settings_versions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("desired", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("audit_id", _ID, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("printer_id", "version", name="uq_settings_version"),
    )
    op.create_table(
        "printer_groups",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_printer_groups_name"),
    )
    with op.batch_alter_table("printer_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_printer_groups_account_id"), ["account_id"], unique=False)

    op.create_table(
        "printer_group_members",
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["printer_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "printer_id"),
    )
    with op.batch_alter_table("printer_group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_printer_group_members_printer_id"), ["printer_id"], unique=False)

    op.create_table(
        "printer_tags",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id", "tag"),
    )
    with op.batch_alter_table("printer_tags", schema=None) as batch_op:
        batch_op.create_index("ix_printer_tags_tag", ["tag"], unique=False)

    op.create_table(
        "printer_sites",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id"),
    )
    with op.batch_alter_table("printer_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_printer_sites_site"), ["site"], unique=False)

    op.create_table(
        "bulk_operations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bulk_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_operations_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_bulk_operations_state", ["state", "id"], unique=False)

    op.create_table(
        "bulk_operation_results",
        sa.Column("id", _ID, nullable=False),
        sa.Column("operation_id", _ID, nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["operation_id"], ["bulk_operations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("operation_id", "printer_id", name="uq_bulk_result_printer"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("printer_id", _ID, nullable=True),
        sa.Column("bulk_operation_id", _ID, nullable=True),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["bulk_operation_id"], ["bulk_operations.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_account_at", ["account_id", "at"], unique=False)
        batch_op.create_index("ix_audit_printer_at", ["printer_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("bulk_operation_results")
    op.drop_table("bulk_operations")
    op.drop_table("printer_sites")
    op.drop_table("printer_tags")
    op.drop_table("printer_group_members")
    op.drop_table("printer_groups")
    op.drop_table("printer_settings_versions")
    op.drop_table("printer_settings_twin")
