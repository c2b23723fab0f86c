"""Statistics: per category, upload trends and totals."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from filewallball.api.access import Admin
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.api.schemas import CategoryStats, StatsOut, TotalsOut, TrendOut
from filewallball.models import utcnow
from filewallball.operations.statistics import (
    MAX_TREND_DAYS,
    Period,
    category_statistics,
    totals,
    upload_trends,
)

router = APIRouter(tags=["statistics"])


@router.get(
    "/stats",
    response_model=StatsOut,
    dependencies=[Admin],
    responses=responses(401, 422, 503),
)
async def stats(
    services: ServicesDep,
    period: Period = Period.DAY,
    days: Annotated[int, Query(ge=1, le=MAX_TREND_DAYS)] = 30,
) -> StatsOut:
    """Live files per category (uncategorised included), uploads per period over the
    last ``days`` days with empty periods as zeros, and totals. Counts every file, so
    it needs the admin token."""

    def gather(session: Session) -> StatsOut:
        end = utcnow().date()
        return StatsOut(
            categories=[
                CategoryStats.model_validate(row, from_attributes=True)
                for row in category_statistics(session)
            ],
            period=period.value,
            trends=[
                TrendOut.of(point)
                for point in upload_trends(
                    session, period, start=end - timedelta(days=days - 1), end=end
                )
            ],
            totals=TotalsOut.of(totals(session)),
        )

    return await services.read(gather)
