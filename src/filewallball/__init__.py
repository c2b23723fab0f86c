"""FileWallBall: self-hosted file storage with its metadata in a relational database."""

__version__ = "0.1.0"
