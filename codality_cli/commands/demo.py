"""``codality demo``: the whole product in one command, with no API key and no network.

It uses its own data dir (``<data>/demo``, so the user's key and projects are never touched),
makes a small sample repository with the ``git`` CLI, starts the scripted Messages endpoint that
ships with the server (as a subprocess: the CLI never imports the server), points the demo
server's ``ANTHROPIC_BASE_URL`` at it, writes a plan that the model checks and splits into two
ticket drafts, approves it, queues the tickets and streams the agent's runs one after another
(the same plan, queue, loop and SDK real work uses), and shows the diff each run left on its
ticket's branch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..agent_stream import AgentPrinter
from ..context import CliContext
from ..errors import CliError, ExitCode
from .queue import follow_queue, outcome

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import QueueView

SAMPLE_FILES = {
    "README.md": "# greeter\n\nA tiny sample project for `codality demo`.\n",
    "greeter.py": (
        'def greet(name):\n    """Greet someone by name."""\n    return "Hello, " + name\n'
    ),
    "test_greeter.py": (
        "import unittest\n\nfrom greeter import greet\n\n\n"
        "class GreetTest(unittest.TestCase):\n"
        "    def test_greet(self):\n"
        '        self.assertEqual(greet("Ada"), "Hello, Ada")\n'
    ),
}
PLAN = {
    "title": "Friendlier greeter",
    "body": "# Friendlier greeter\n\n"
    "`greet` should sound glad to see people: end the greeting with an exclamation mark.\n"
    "Then add `farewell(name)` beside it, so the module can say goodbye too.\n\n"
    "Both keep their `unittest` tests in `test_greeter.py` passing.\n",
}
IDENTITY = {
    "GIT_AUTHOR_NAME": "Codality Demo",
    "GIT_AUTHOR_EMAIL": "demo@codality.invalid",
    "GIT_COMMITTER_NAME": "Codality Demo",
    "GIT_COMMITTER_EMAIL": "demo@codality.invalid",
}


def make_sample_repo(path: Path) -> None:
    """A two-file Python project with one commit on ``main``, made with the git CLI."""
    if (path / ".git").exists():
        return
    path.mkdir(parents=True, exist_ok=True)
    for name, text in SAMPLE_FILES.items():
        (path / name).write_text(text, encoding="utf-8")
    env = {**os.environ, **IDENTITY}
    try:
        for args in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            ["commit", "-q", "-m", "Greeter"],
        ):
            subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CliError(
            f"the demo needs the git command to make its sample repository: {exc}"
        ) from exc


@contextmanager
def scripted_model(script: str = "demo") -> Iterator[str]:
    """The scripted Messages endpoint as a subprocess, playing ``script``; yields its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codality_server.scripted",
            "--port",
            "0",
            "--script",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise CliError("the demo's scripted model endpoint did not start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


async def _project(api: ApiClient, repo: Path) -> str:
    for project in await api.projects.list():
        if Path(str(project.get("path"))) == repo:
            return str(project["slug"])
    created = await api.projects.create({"mode": "existing", "path": str(repo)})
    return str(created["slug"])


async def plan_demo(cli: CliContext, api: ApiClient, slug: str) -> list[int]:
    """Write the plan, have it checked and split into drafts, approve it; the tickets' numbers."""
    from .plan import readiness_lines

    plan = await api.plans.create(slug, PLAN)
    plan_id = int(plan["id"])
    cli.streams.message(f"── plan {plan_id}: {plan['title']}")
    verdict = await api.plans.check_ready(slug, plan_id)
    cli.streams.message("checked: " + "\n".join(readiness_lines(verdict)))
    drafts = (await api.plans.extract(slug, plan_id)).get("drafts") or []
    cli.streams.message(f"the model split it into {len(drafts)} ticket drafts; approving the plan")
    numbers = []
    for ticket in await api.plans.approve(slug, plan_id):
        numbers.append(int(ticket["number"]))
        cli.streams.message(f"filed ticket #{ticket['number']}: {ticket['title']}")
    return numbers


DISCOVER_QUESTION = "What could we improve in greeter, and in what order?"


async def discover_demo(cli: CliContext, api: ApiClient, slug: str) -> None:
    """A scripted discovery conversation: the reply streams, then each proposal is shown as a
    card and confirmed, as pressing ``y`` would."""
    from ..discover_view import card_lines, made_summary
    from .discover_chat import stream_reply

    conversation = await api.discover.create(slug, "Where next for greeter?")
    cid = int(conversation["id"])
    cli.streams.message(f"── discovery conversation {cid}\nyou: {DISCOVER_QUESTION}\n")
    reply = await stream_reply(api, slug, cid, DISCOVER_QUESTION, AgentPrinter(cli.streams))
    console = cli.streams.console("err")
    for action in reply.get("actions") or []:
        cli.streams.message("")
        for line in card_lines(action):
            console.print(line, style="yellow", markup=False, highlight=False)
        decided = await api.discover.decide(slug, cid, int(action["id"]), "confirm")
        cli.streams.message(f"  confirmed (as y would): {made_summary(decided)}")
    cli.streams.message(
        f"\nGo on talking: `codality --data-dir {cli.settings.data_dir / 'demo'} -p {slug} "
        f"discover chat {cid}`. For real work, set ANTHROPIC_API_KEY with "
        "`codality settings env-set` and run `codality discover chat` in your repository."
    )


def demo(
    ctx: typer.Context,
    discover: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Show a discovery conversation instead: the model reads the sample repository"
            " and proposes tickets and a work queue.",
        ),
    ] = False,
) -> None:
    """See the whole product in one command: a sample repo, a plan the model splits into two
    tickets, run by a scripted agent through a work queue (or, with --discover, a discovery
    conversation)."""
    cli = CliContext.of(ctx)
    if not cli.settings.is_local:
        raise CliError(
            "the demo runs on its own local server; drop --server/CODALITY_URL", ExitCode.USAGE
        )
    demo_dir = cli.settings.data_dir / "demo"
    demo_settings = cli.settings._replace(data_dir=demo_dir, project=None, env_token=None)
    demo_cli = CliContext(demo_settings, cli.streams)
    repo = demo_dir / "sample-repo"
    make_sample_repo(repo)
    printer = AgentPrinter(cli.streams)
    cli.streams.message(f"demo data dir: {demo_dir}\nsample repository: {repo}")

    with scripted_model("discover" if discover else "demo") as model_url:

        async def run(api: ApiClient) -> QueueView | None:
            await api.settings.set_env(
                {"ANTHROPIC_API_KEY": "demo-key-scripted", "ANTHROPIC_BASE_URL": model_url}
            )
            slug = await _project(api, repo)
            if discover:
                await discover_demo(cli, api, slug)
                return None
            numbers = await plan_demo(cli, api, slug)
            queue = await api.queues.create(slug, {"name": "Demo", "tickets": numbers})
            listed = " then ".join(f"#{n}" for n in numbers)
            cli.streams.message(f"queued {listed} as work queue {queue['id']}; starting it\n")
            started = await api.queues.start(slug, int(queue["id"]))
            ended = await follow_queue(api, slug, started, printer)
            cli.streams.message(outcome(ended))
            for number in numbers:
                diff = await api.transport.get(f"/api/projects/{slug}/tickets/{number}/diff")
                cli.streams.message(f"\nThe agent's change for #{number}, on its own branch:\n")
                cli.streams.write(diff if isinstance(diff, str) else str(diff.get("diff", "")))
            cli.streams.message(
                f"\nReplay a run: `codality --data-dir {cli.settings.data_dir / 'demo'} -p {slug}"
                f" ticket watch {numbers[0]}`. For real work, set ANTHROPIC_API_KEY with "
                "`codality settings env-set`, then start the agent on a ticket or queue a few"
                " with `codality queue create NAME 3 5 8` and `codality queue start NAME --follow`."
            )
            return ended

        try:
            ended = demo_cli.run(run, stream=True)
        except KeyboardInterrupt:
            printer.finish()
            raise typer.Exit(130) from None
        finally:
            from .. import local_server

            local_server.stop(demo_dir)
    if ended is not None and ended.get("status") != "completed":
        raise typer.Exit(int(ExitCode.AGENT_UNSUCCESSFUL))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
