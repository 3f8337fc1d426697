"""A scripted Anthropic Messages endpoint for the demo and the tests: a dev server, not the runtime.

It imports nothing of the server, and the runtime never imports it: ``codality demo`` runs it as a
subprocess (``python -m codality_server.scripted``); tests and benches serve its app in-process.
"""
