"""A small, fast, self-hostable live-chat server."""

__version__ = "0.1.0"
