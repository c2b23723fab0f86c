"""What FileWallBall offers to code that imports it: the ``__all__`` of its public modules,
pinned. Every other module is a leaf of the package and declares none, so that
``__all__`` never claims what nobody maintains."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import filewallball

PUBLIC = {
    "filewallball.api": ["create_app"],
    "filewallball.cli": ["main"],
    "filewallball.database": [
        "CHECKPOINT_SECONDS",
        "GROUP_COMMIT",
        "READ_ONLY",
        "AsyncDatabase",
        "Database",
        "DatabaseHealth",
        "PoolStatus",
        "WalFlush",
        "create_async_database_engine",
        "create_database_engine",
        "get_database",
        "get_db",
        "is_deadlock",
        "off_the_event_loop",
    ],
    "filewallball.errors": [
        "Conflict",
        "CorruptData",
        "FileWallBallError",
        "Forbidden",
        "Gone",
        "InsufficientScope",
        "InvalidInput",
        "InvalidValue",
        "NotFound",
        "StorageFull",
        "TooLarge",
        "Unauthorized",
        "UnsupportedType",
    ],
    "filewallball.migrations": ["MIGRATIONS_DIR", "alembic_config"],
    "filewallball.models": [
        "NAMING_CONVENTION",
        "ApiKey",
        "Base",
        "Blob",
        "FileCategory",
        "FileCount",
        "FileDownload",
        "FileExtension",
        "FileInfo",
        "FileStatistics",
        "FileTag",
        "FileTagRelation",
        "FileUpload",
        "FileView",
        "HousekeepingJob",
        "ReadOnlyViewError",
        "SystemSetting",
        "UTCDateTime",
        "User",
        "generate_file_uuid",
        "utcnow",
        "views_metadata",
    ],
    "filewallball.settings": ["ENV_FILE", "Settings", "default_data_dir", "get_settings"],
    "filewallball.storage": [
        "BlobInfo",
        "BlobStore",
        "LocalBlobStore",
        "Space",
        "StagedBlob",
        "open_store",
    ],
}


def _declares_all(path: Path) -> bool:
    """Read, not imported: some modules are scripts (``__main__``, Alembic's env)."""
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
            return True
    return False


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_a_public_module_offers_exactly_its_pinned_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC[name])
    for attribute in module.__all__:
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute}, which it lacks"
    defined_here = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined_here <= set(module.__all__), "public but not in __all__"


def test_every_other_module_is_a_leaf_without_all() -> None:
    package = Path(filewallball.__file__).parent
    declaring = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in PUBLIC and _declares_all(path):
            declaring.append(name)
    assert declaring == []
