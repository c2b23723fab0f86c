"""The installation the CLI tests work on: a database per dialect that the commands
commit into (migrated once per module, emptied after each test), a data directory per
test, and helpers to run commands. A pytest plugin (see tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, joinedload, selectinload

from filewallball.cli import main
from filewallball.database import create_database_engine
from filewallball.hashing import sha256_of_file
from filewallball.models import (
    ApiKey,
    Blob,
    FileCount,
    FileDownload,
    FileInfo,
    FileTag,
    FileTagRelation,
    FileUpload,
    FileView,
    User,
)
from filewallball.settings import Settings
from filewallball.storage import BlobStore, open_store
from tests.conftest import upgrade
from tests.servers import Server, settings_for


@pytest.fixture(scope="module")
def cli_engine(server: Server) -> Iterator[Engine]:
    """A database at head for this module's tests, which commit."""
    url = server.create_database()
    engine = upgrade(create_database_engine(settings_for(url, pool_size=2)))
    yield engine
    engine.dispose()
    server.drop_database(url)


@dataclass(frozen=True)
class CliInstallation:
    engine: Engine
    data: Path
    storage_url: str | None = None  # None: the local store in the data directory

    @property
    def store(self) -> BlobStore:
        return open_store(Settings(data_dir=self.data, storage_url=self.storage_url))

    @property
    def blobs(self) -> Path:
        return self.data / "blobs"

    def blob_path(self, content_hash: str) -> Path:
        return self.blobs / content_hash[:2] / content_hash[2:4] / content_hash

    def scalars(self, statement: Any) -> list[Any]:
        with Session(self.engine) as session:
            return list(session.scalars(statement).unique())

    def files(self) -> list[FileInfo]:
        return self.scalars(
            sa.select(FileInfo)
            .options(selectinload(FileInfo.tags), joinedload(FileInfo.category))
            .order_by(FileInfo.original_filename)
        )

    def blob_hashes(self) -> set[str]:
        return set(self.scalars(sa.select(Blob.content_hash)))

    def stored_blobs(self) -> set[str]:
        """The blob files on disk, each checked to hold the content its name promises."""
        found = set()
        for path in self.blobs.glob("??/??/*"):
            assert sha256_of_file(path)[0] == path.name
            found.add(path.name)
        return found

    def staging(self) -> list[Path]:
        return list((self.blobs / ".staging").iterdir())


@pytest.fixture
def installation(
    cli_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CliInstallation]:
    url: URL = cli_engine.url
    monkeypatch.setenv("FILEWALLBALL_DATABASE_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("FILEWALLBALL_DATA_DIR", str(tmp_path / "data"))
    yield CliInstallation(cli_engine, tmp_path / "data")
    with cli_engine.begin() as connection:
        for model in (
            FileDownload,
            FileView,
            FileTagRelation,
            FileTag,
            FileUpload,
            FileInfo,
            Blob,
            FileCount,
            ApiKey,
            User,
        ):
            connection.execute(sa.delete(model))


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.ceph)])
def installation_on(
    request: pytest.FixtureRequest, installation: CliInstallation, monkeypatch: pytest.MonkeyPatch
) -> CliInstallation:
    """The installation with its blobs in the data directory, or in a bucket of the
    run's Ceph: for the commands that work on the store through its interface."""
    if request.param == "local":
        return installation
    storage_url = f"s3://{request.getfixturevalue('s3_bucket')}/installation"
    monkeypatch.setenv("FILEWALLBALL_STORAGE_URL", storage_url)
    return dataclasses.replace(installation, storage_url=storage_url)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def upload(*args: str | Path) -> dict[str, Any]:
    result = run("upload", "--json", *map(str, args))
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def uuids_by_name(document: dict[str, Any]) -> dict[str, str]:
    return {item["original_filename"]: item["file_uuid"] for item in document["uploaded"]}


def listing(*args: str) -> list[str]:
    result = run("ls", "--json", *args)
    assert result.exit_code == 0, result.output
    return [item["original_filename"] for item in json.loads(result.stdout)["items"]]


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
