"""Scheduled housekeeping: a row per job, with when it runs next and who holds it now.

The service's workers claim a due job with a conditional UPDATE of its row, so event
expiry and the trash purge run once however many workers and servers share the
database. The jobs' rows are made here, due at once: workers claiming a job whose row
they would all have to insert first deadlock on MariaDB (each failed INSERT leaves a
lock the others wait for).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from filewallball.models.types import Identifier, UTCDateTime, utcnow

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {
    f"{prefix}_{option}": value
    for prefix in ("mysql", "mariadb")
    for option, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}
JOBS = ("expire_events", "purge_trash")  # maintenance.JOBS when this revision was written


def upgrade() -> None:
    jobs = op.create_table(
        "housekeeping_jobs",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(50), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=False),
        sa.Column("held_by", sa.String(100)),
        sa.Column("held_until", UTCDateTime()),
        sa.Column("last_run_at", UTCDateTime()),
        sa.Column("last_result", sa.String(255)),
        sa.UniqueConstraint("job"),
        **TABLE_OPTIONS,
    )
    now = utcnow()
    op.bulk_insert(jobs, [{"job": job, "next_run_at": now} for job in JOBS])


def downgrade() -> None:
    op.drop_table("housekeeping_jobs")
