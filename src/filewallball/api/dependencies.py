"""What routes take as parameters, declared once: the services a request runs on, and a
file's UUID in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from filewallball.api.services import Services, get_services

ServicesDep = Annotated[Services, Depends(get_services)]
# Checked by the operations (parse_file_uuid: 400); the bound only refuses a huge path.
FileUUID = Annotated[str, Path(description="The file's UUID", max_length=64)]
