"""Alembic migrations: the only source of the database schema.

``alembic_config()`` builds the configuration in code, so ``filewallball db ...`` works from
any directory; the ``alembic.ini`` at the repository root points stock ``alembic`` here too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Connection

__all__ = ["MIGRATIONS_DIR", "alembic_config"]

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(
    connection: Connection | None = None, *, offline_url: str | None = None
) -> Config:
    """Configuration for Alembic's commands.

    ``connection``: migrate through this connection (tests, or a caller that already holds
    one) instead of opening the configured database. ``offline_url``: the URL whose dialect
    renders SQL in ``--sql`` mode; nothing is connected.
    """
    config = Config(stdout=sys.stdout)  # the current stdout, not the one at import time
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    if offline_url is not None:
        config.attributes["offline_url"] = offline_url
    return config
