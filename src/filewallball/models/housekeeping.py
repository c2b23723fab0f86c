"""Scheduled housekeeping: one row per job, which is also the job's lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from filewallball.models.base import Base
from filewallball.models.types import JOB_HOLDER_LENGTH, JOB_RESULT_LENGTH, IntPK


class HousekeepingJob(Base):
    """When a job runs next, and who runs it now.

    Every worker of every server sharing the database looks at these rows; a worker runs
    a job only after taking its lease (``held_by`` until ``held_until``) with a
    conditional UPDATE, so a job runs once however many workers there are. A worker that
    dies holding a lease loses it when ``held_until`` passes."""

    __tablename__ = "housekeeping_jobs"

    id: Mapped[IntPK]
    job: Mapped[str] = mapped_column(String(50), unique=True)
    next_run_at: Mapped[datetime]
    held_by: Mapped[str | None] = mapped_column(String(JOB_HOLDER_LENGTH))
    held_until: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(JOB_RESULT_LENGTH))

    def __repr__(self) -> str:
        return f"<HousekeepingJob {self.job} next {self.next_run_at:%Y-%m-%d %H:%M}>"
