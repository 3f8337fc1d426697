"""What the read commands show, without the CLI framework.

Each module holds one noun's columns and the work of its read commands (ask, then render
through ``Output``). The typer commands in ``commands/`` call them, and so does ``fast_path``,
which runs a read command straight from its argv without importing typer: the same code prints
the same bytes either way.
"""
