"""``filewallball fsck``: check that the database and the blob store agree, and repair
what can be repaired without losing anything."""

from __future__ import annotations

from datetime import timedelta

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from filewallball.cli.shared import echo_json, open_installation, plural, reports_errors
from filewallball.maintenance import check_integrity
from filewallball.operations.integrity import (
    DEFAULT_CUTOFF,
    KINDS,
    LOST_AND_FOUND,
    Adoption,
    Report,
)

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
    stderr = Console(stderr=True)
    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        disable=as_json or not stderr.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("fsck", total=None)
        checked = check_integrity(
            installation.database,
            installation.store,
            strays_into=installation.settings.data_dir / STRAY_DIR,
            deep=deep,
            cutoff=timedelta(minutes=cutoff_minutes),
            adopt=adopt,
            repair=repair,
            counted=lambda contents: progress.update(task, total=contents),
            progress=lambda _bytes: progress.advance(task),
        )
    report, adoptions = checked.report, checked.adoptions
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
