"""Codality's embedded local server: the whole REST API over SQLite."""

__version__ = "0.1.0"
