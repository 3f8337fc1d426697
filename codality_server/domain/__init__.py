"""Pure domain types and rules: no I/O, no aiohttp, no database, no git."""
