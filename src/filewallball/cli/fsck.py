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
    KINDS,
    LOST_AND_FOUND,
    Adoption,
    Report,
    adopt_blob,
    adoption_of,
    mark_lost,
    record_report,
    scan,
)

__all__ = ["STRAY_DIR", "fsck"]

STRAY_DIR = "stray"  # in the data directory: where --repair moves what it does not understand


@click.command()
@click.option("--deep", is_flag=True, help="Re-hash every blob (reads all content).")
@click.option(
    "--repair",
    is_flag=True,
    help="Remove unreferenced blobs and dead temporary files, move strays aside, mark "
    "lost contents.",
)
@click.option(
    "--adopt",
    is_flag=True,
    help=f"Make unreferenced blobs whose hash verifies private files tagged {LOST_AND_FOUND} "
    "instead of removing them (with --repair; alone, list what would be adopted).",
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
def fsck(deep: bool, repair: bool, adopt: bool, cutoff_minutes: int, as_json: bool) -> None:
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
    adoptions = _adoptions(installation, report) if adopt else {}
    if repair:
        _repair(installation, report, cutoff_minutes, adoptions)
    with database.transaction() as session:
        record_report(session, report)
    if as_json:
        document = report.as_json()
        if adopt:
            document["adoptions"] = [_adoption_json(h, a) for h, a in adoptions.items()]
        echo_json(document)
    else:
        _print(report)
        _print_adoptions(adoptions, done=repair)
    remaining = [f for f in report.findings if f.kind in ("missing", "corrupt")]
    if not repair:
        remaining = [f for f in report.findings if f.kind != "restored"]
    unadoptable = [reason for reason in adoptions.values() if isinstance(reason, str)]
    if remaining or unadoptable:
        raise SystemExit(1)


def _adoptions(installation: Installation, report: Report) -> dict[str, Adoption | str]:
    """For each unreferenced blob, the file it becomes, or why it cannot be adopted."""
    return {
        finding.content_hash: adoption_of(installation.store, finding.content_hash)
        for finding in report.findings
        if finding.kind == "unreferenced" and finding.content_hash
    }


def _adoption_json(content_hash: str, adoption: Adoption | str) -> dict[str, object]:
    if isinstance(adoption, str):
        return {"content_hash": content_hash, "adoptable": False, "reason": adoption}
    return {
        "content_hash": content_hash,
        "adoptable": True,
        "original_filename": adoption.original_filename,
        "mime_type": adoption.mime_type,
        "file_size": adoption.size,
        "tag": LOST_AND_FOUND,
    }


def _print_adoptions(adoptions: dict[str, Adoption | str], *, done: bool) -> None:
    for content_hash, adoption in adoptions.items():
        if isinstance(adoption, str):
            click.echo(f"{'not adopted':<13} {content_hash}: {adoption} (left in place)")
        else:
            verb = "adopted" if done else "would adopt"
            click.echo(
                f"{verb:<13} {content_hash}: as {adoption.original_filename} "
                f"({adoption.mime_type}, private, tagged {LOST_AND_FOUND})"
            )


def _repair(
    installation: Installation,
    report: Report,
    cutoff_minutes: int,
    adoptions: dict[str, Adoption | str],
) -> None:
    database, store = installation.database, installation.store
    repaired = {"blobs_removed": 0, "temporary_removed": 0, "contents_marked": 0}
    if adoptions:
        repaired["files_adopted"] = 0
    if report.count("stray"):
        repaired["strays_moved"] = 0
    for finding in report.findings:
        if finding.kind == "unreferenced" and finding.content_hash in adoptions:
            adoption = adoptions[finding.content_hash]
            if isinstance(adoption, Adoption):  # a blob that does not verify stays
                with database.transaction() as session:
                    repaired["files_adopted"] += adopt_blob(session, store, adoption) is not None
        elif finding.kind == "stray":
            store.move_stray(finding.detail, installation.settings.data_dir / STRAY_DIR)
            repaired["strays_moved"] += 1
        elif finding.kind == "unreferenced" and finding.content_hash:
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
        detail = "" if finding.detail == target else f": {finding.detail}"
        click.echo(f"{finding.kind:<13} {target}{rows}{detail}")
    counts = ", ".join(f"{report.count(kind)} {kind}" for kind in KINDS)
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
