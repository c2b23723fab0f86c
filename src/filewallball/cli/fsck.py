"""``filewallball fsck``: check that the database and the blob store agree, and repair
what can be repaired without losing anything."""

from __future__ import annotations

from datetime import timedelta

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import func, select

from filewallball.cli.shared import (
    Installation,
    echo_json,
    open_installation,
    plural,
    reports_errors,
)
from filewallball.models import FileInfo
from filewallball.operations.blobs import release_blob
from filewallball.operations.integrity import (
    DEFAULT_CUTOFF,
    Report,
    mark_lost,
    record_report,
    scan,
)

__all__ = ["fsck"]


@click.command()
@click.option("--deep", is_flag=True, help="Re-hash every blob (reads all content).")
@click.option(
    "--repair",
    is_flag=True,
    help="Remove unreferenced blobs and dead temporary files, mark lost contents.",
)
@click.option(
    "--cutoff-minutes",
    type=click.IntRange(0),
    default=int(DEFAULT_CUTOFF.total_seconds() // 60),
    show_default=True,
    help="Leave alone anything younger (uploads in flight).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_errors
def fsck(deep: bool, repair: bool, cutoff_minutes: int, as_json: bool) -> None:
    """Compare the database and the blob store in both directions. A dry run unless
    --repair; repairs never delete a file row and never rewrite content. Exit code 1
    while problems remain."""
    installation = open_installation()
    database, store = installation.database, installation.store
    stderr = Console(stderr=True)
    with database.transaction() as session:
        contents = session.scalar(select(func.count(func.distinct(FileInfo.file_hash)))) or 0
    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        disable=as_json or not stderr.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("fsck", total=contents)
        with database.transaction() as session:
            report = scan(
                session,
                store,
                deep=deep,
                cutoff=timedelta(minutes=cutoff_minutes),
                progress=lambda _bytes: progress.advance(task),
            )
    if repair:
        _repair(installation, report, cutoff_minutes)
    with database.transaction() as session:
        record_report(session, report)
    if as_json:
        echo_json(report.as_json())
    else:
        _print(report)
    remaining = [f for f in report.findings if f.kind in ("missing", "corrupt")]
    if not repair:
        remaining = [f for f in report.findings if f.kind != "restored"]
    if remaining:
        raise SystemExit(1)


def _repair(installation: Installation, report: Report, cutoff_minutes: int) -> None:
    database, store = installation.database, installation.store
    repaired = {"blobs_removed": 0, "temporary_removed": 0, "contents_marked": 0}
    for finding in report.findings:
        if finding.kind == "unreferenced" and finding.content_hash:
            with database.transaction() as session:
                repaired["blobs_removed"] += release_blob(session, store, finding.content_hash)
        elif finding.kind in ("missing", "corrupt", "restored"):
            with database.transaction() as session:
                repaired["contents_marked"] += mark_lost(session, store, finding, deep=report.deep)
    if report.count("temporary"):
        older_than = report.started_at - timedelta(minutes=cutoff_minutes)
        repaired["temporary_removed"] = store.remove_temporary(older_than=older_than)
    report.repaired = repaired


def _print(report: Report) -> None:
    for finding in report.findings:
        target = finding.content_hash or finding.detail
        rows = f" ({plural(finding.files, 'file')})" if finding.files else ""
        click.echo(f"{finding.kind:<13} {target}{rows}: {finding.detail}")
    counts = ", ".join(
        f"{report.count(kind)} {kind}"
        for kind in ("missing", "corrupt", "unreferenced", "temporary", "restored")
    )
    click.echo(
        f"checked {plural(report.contents_checked, 'content')} and "
        f"{plural(report.blobs_seen, 'blob')}: {counts}" + (" (deep)" if report.deep else "")
    )
    if report.repaired:
        done = ", ".join(
            f"{value} {key.replace('_', ' ')}" for key, value in report.repaired.items()
        )
        click.echo(f"repaired: {done}")
    elif not report.clean:
        click.echo("dry run: nothing changed (--repair to repair)")
