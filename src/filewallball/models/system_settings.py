"""Runtime settings stored in the database, each with a declared type."""

from __future__ import annotations

from sqlalchemy import String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from filewallball.models.base import Base, Timestamps, one_of
from filewallball.models.types import Description, IntPK, SettingKey

SETTING_TYPES = ("string", "integer", "boolean", "json")


class SystemSetting(Timestamps, Base):
    __tablename__ = "system_settings"

    id: Mapped[IntPK]
    setting_key: Mapped[SettingKey] = mapped_column(unique=True)
    setting_value: Mapped[str | None] = mapped_column(Text)
    setting_type: Mapped[str] = mapped_column(String(20), default="string", server_default="string")
    description: Mapped[Description | None]
    is_public: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (one_of("setting_type", SETTING_TYPES),)
