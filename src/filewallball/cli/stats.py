"""``filewallball stats``: live files per category, uploads over time, and totals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import click
from rich.table import Table

from filewallball.cli.shared import (
    echo_json,
    moment_text,
    open_installation,
    plural,
    reports_errors,
    stdout_console,
)
from filewallball.operations.statistics import (
    MAX_TREND_DAYS,
    CategoryStats,
    Period,
    TrendPoint,
    last_days,
    statistics,
)
from filewallball.units import human_size


@click.command()
@click.option(
    "--period",
    type=click.Choice([period.value for period in Period]),
    default=Period.DAY.value,
    show_default=True,
    help="Count uploads per day, ISO week or month.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_TREND_DAYS),
    default=30,
    show_default=True,
    help="The trend's window: the last N days, today (UTC) included.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@reports_errors
def stats(period: str, days: int, as_json: bool) -> None:
    """Show files per category, upload trends and totals.

    Counts live files; the totals also count the trash."""
    start, end = last_days(days)
    with open_installation().database.transaction(read_only=True) as session:
        document = statistics(session, Period(period), start=start, end=end)
    if as_json:  # the document GET /api/v1/stats answers
        echo_json(document.model_dump(mode="json"))
        return
    overall = document.totals
    console = stdout_console()
    console.print(_category_table(document.categories))
    console.print(_trend_table(period, start, end, document.trends))
    console.print(
        f"Live: {plural(overall.files, 'file')}, {human_size(overall.bytes)}, "
        f"{plural(overall.distinct_contents, 'distinct content')}. "
        f"In the trash: {plural(overall.deleted_files, 'file')}, "
        f"{human_size(overall.deleted_bytes)}."
    )


def _category_table(rows: Sequence[CategoryStats]) -> Table:
    table = Table("category", "files", "size", "average", "last upload", title="Live files")
    for row in rows:
        table.add_row(
            row.category_name or "(none)",
            str(row.file_count),
            human_size(row.total_size),
            human_size(round(row.avg_file_size)) if row.avg_file_size is not None else "-",
            moment_text(row.last_upload),
        )
    return _numbers_right(table)


def _trend_table(period: str, start: date, end: date, points: Sequence[TrendPoint]) -> Table:
    table = Table(period, "files", "size", title=f"Uploads per {period}, {start} to {end}")
    for point in points:
        table.add_row(point.start.isoformat(), str(point.files), human_size(point.bytes))
    return _numbers_right(table)


def _numbers_right(table: Table) -> Table:
    for column in table.columns[1:]:
        column.justify = "right"
    return table
