"""``--server`` at an address where something else answers: said so, exit 5 (unreachable).

Each foreign server is a real HTTP server on loopback, and ``codality`` a real process; the
control is the same command against the real Codality server, which works.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli.conftest import Cli, codality

# (status, content type, body) a foreign server answers every request with.
FOREIGN = {
    "404 page": (404, "text/html; charset=utf-8", b"<html><body>Not Found</body></html>"),
    "HTML page": (200, "text/html", b"<!doctype html><title>Welcome to nginx!</title>"),
    "JSON 404": (404, "application/json", b'{"message": "Not Found"}'),
    "JSON API": (200, "application/json", b'{"status": "ok", "items": []}'),
    "bare 401": (401, "", b""),
}


def serve(status: int, content_type: str, body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(params=sorted(FOREIGN))
def foreign(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    for url in serve(*FOREIGN[request.param]):
        yield request.param, url


@pytest.mark.parametrize("signed_in", [True, False], ids=["with a token", "without one"])
def test_a_server_that_is_not_codality_is_named_as_such(
    cli: Cli, foreign: tuple[str, str], signed_in: bool
) -> None:
    kind, url = foreign
    env = {"CODALITY_TOKEN": str(cli.token)} if signed_in else {"CODALITY_TOKEN": ""}
    control = codality("--server", cli.server.url, "-p", "nothing", "ticket", "view", "1", env=env)
    if signed_in:  # the real server: a missing project is "not found"
        assert control.returncode == 3, control.stderr
    else:  # the real server: sign in first
        assert control.returncode == 4, control.stderr

    done = codality("--server", url, "-p", "nothing", "ticket", "view", "1", env=env)
    assert done.returncode == 5, (kind, done.stderr)
    status, _, _ = FOREIGN[kind]
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: no Codality server at {url}: it answered {status} "), line
    assert line.endswith("; check --server or CODALITY_URL"), line
    assert done.stdout == ""


def test_what_the_foreign_server_sent_is_described(cli: Cli) -> None:
    described = {
        "404 page": "404 Not Found with an HTML page",
        "JSON API": "200 OK with JSON of its own",
        "bare 401": "401 Unauthorized with nothing",
    }
    for kind, words in described.items():
        for url in serve(*FOREIGN[kind]):
            done = codality(
                "--server", url, "-p", "x", "ticket", "list", env={"CODALITY_TOKEN": "t"}
            )
            assert f"it answered {words};" in done.stderr, done.stderr
