"""The HTTP service: FastAPI on Granian. ``create_app`` builds it from the settings."""

from filewallball.api.app import create_app

__all__ = ["create_app"]
