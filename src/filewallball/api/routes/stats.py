"""Statistics: per category, upload trends and totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from filewallball.api.access import Admin
from filewallball.api.dependencies import ServicesDep
from filewallball.api.errors import responses
from filewallball.operations.statistics import (
    MAX_TREND_DAYS,
    Period,
    Statistics,
    last_days,
    statistics,
)

router = APIRouter(tags=["statistics"])


@router.get(
    "/stats",
    response_model=Statistics,
    dependencies=[Admin],
    responses=responses(401, 403, 422, 503),
)
async def stats(
    services: ServicesDep,
    period: Period = Period.DAY,
    days: Annotated[int, Query(ge=1, le=MAX_TREND_DAYS)] = 30,
) -> Statistics:
    """Live files per category (uncategorised included), uploads per period over the
    last ``days`` days with empty periods as zeros, and totals. Counts every file, so
    it needs the admin token."""
    start, end = last_days(days)
    return await services.read(statistics, period, start=start, end=end)
