"""Codality CLI: the ``codality`` command and the API client it shares with the TUI."""

__version__ = "0.1.0"
