"""``codality discover say | chat``: talking with the discovery model from a terminal.

``say`` sends one message and prints the finished reply (``--json`` for scripts). ``chat`` is a
REPL in the manner of ``llm chat``: the reply streams as it is written (text on stdout; one dim
line per tool call on stderr), each proposal is shown as a card with confirm / edit / reject asked
in place, input has readline history, ``!multi`` … ``!end`` takes several lines, Ctrl-C cancels
the reply being written without leaving, and Ctrl-D or ``!exit`` leaves.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..agent_stream import AgentPrinter
from ..context import CliContext
from ..discover_view import reply_ending, streams_live
from ..errors import CliError, ExitCode
from ..options import JsonOption
from .discover import ConversationArgument, app, edit_proposal, print_message

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Action

PROMPT = "> "
CONTINUE = ". "
HELP = (
    "Ctrl-C cancels a reply being written; Ctrl-D or !exit leaves; !multi starts several lines,"
    " !end sends them."
)
QUESTION = "  confirm / edit / reject / skip? [c/e/r/s] "


@app.command("say")
def say(
    ctx: typer.Context,
    conversation: ConversationArgument,
    message: Annotated[str, typer.Argument(help="What to say; '-' reads standard input.")],
    as_json: JsonOption = False,
) -> None:
    """Send a message and print the finished reply (its proposals too)."""
    from ..editor import read_text_arg

    cli = CliContext.of(ctx)
    text = read_text_arg(message) or ""
    reply = cli.run_in_project(lambda api, slug: api.discover.say(slug, conversation, text))
    if as_json:
        cli.output(True).json(reply)
    else:
        print_message(cli.streams, reply)
    if reply.get("status") != "complete":
        raise CliError(
            f"the reply ended {reply.get('status')}: {reply.get('error') or 'no reason given'}",
            ExitCode.AGENT_UNSUCCESSFUL,
        )


async def stream_reply(
    api: ApiClient, slug: str, conversation_id: int, text: str, printer: AgentPrinter
) -> dict[str, Any]:
    """Send ``text`` and print the reply as it streams; returns the finished reply. Proposals
    are left out: they are asked about as cards once the reply is done."""
    sent = await api.discover.send(slug, conversation_id, text)
    project = await api.projects.get(slug)
    channel = f"project:{project['id']}"
    reply_id = sent["reply_id"]
    async for event in api.events.subscribe(
        [channel], last_event_id=sent.get("last_event_id"), retries=5
    ):
        data = event.data if isinstance(event.data, dict) else {}
        if data.get("conversation_id") != conversation_id:
            continue
        if event.type == "discover:message" and (data.get("message") or {}).get("id") == reply_id:
            printer.finish()
            return dict(data["message"])
        if data.get("message_id") == reply_id and streams_live(event.type, data):
            printer.event(event.type, data)
    raise CliError("the event stream ended before the reply did", ExitCode.UNREACHABLE)


class Chat:
    """The REPL's state: the conversation, the project, readline history."""

    def __init__(self, cli: CliContext, conversation_id: int | None) -> None:
        self.cli = cli
        self.conversation_id = conversation_id
        self.history_file = cli.settings.config_dir / "discover_history"

    def start(self) -> None:
        self._readline()
        if self.conversation_id is None:
            made = self.cli.run_in_project(lambda api, slug: api.discover.create(slug))
            self.conversation_id = int(made["id"])
            self.cli.streams.message(f"── new conversation {self.conversation_id}")
        else:
            found = self.cli.run_in_project(
                lambda api, slug: api.discover.get(slug, self.conversation_id or 0)
            )
            self.cli.streams.message(
                f"── {found['title'] or '(untitled)'} · conversation {found['id']}"
            )
            for message in found["messages"]:
                print_message(self.cli.streams, message)
        self.cli.streams.message(HELP)
        try:
            while True:
                text = self._read()
                if text is None:
                    break
                if text.strip():
                    self._turn(text)
        finally:
            self._save_history()

    # --- input ----------------------------------------------------------------------------------

    def _readline(self) -> None:
        try:
            import readline
        except ImportError:  # not every Python has it; input() still works
            return
        readline.set_history_length(1000)
        with contextlib.suppress(OSError):
            readline.read_history_file(self.history_file)

    def _save_history(self) -> None:
        try:
            import readline
        except ImportError:
            return
        try:
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(self.history_file)
        except OSError:
            pass

    def _read(self) -> str | None:
        """The next message: one line, or ``!multi`` … ``!end``; None to leave."""
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                self.cli.streams.message("")
                return None
            except KeyboardInterrupt:
                self.cli.streams.message("")
                continue
            command = line.strip()
            if command in ("!exit", "!quit"):
                return None
            if command != "!multi":
                return line
            lines: list[str] = []
            try:
                while (more := input(CONTINUE)).strip() != "!end":
                    lines.append(more)
            except (EOFError, KeyboardInterrupt):
                self.cli.streams.message("")
                continue
            return "\n".join(lines)

    # --- one exchange ---------------------------------------------------------------------------

    def _turn(self, text: str) -> None:
        conversation_id = self.conversation_id or 0
        printer = AgentPrinter(self.cli.streams, show_thinking=False)
        try:
            reply = self.cli.run_in_project(
                lambda api, slug: stream_reply(api, slug, conversation_id, text, printer),
                stream=True,
            )
        except KeyboardInterrupt:
            printer.finish()
            self._cancel(conversation_id)
            return
        except CliError as exc:
            printer.finish()
            exc.show()
            return
        ended = reply_ending(reply)
        if ended is not None:
            self.cli.streams.message(ended)
        for action in reply.get("actions") or []:
            if action.get("status") == "pending":
                self._ask(conversation_id, action)

    def _cancel(self, conversation_id: int) -> None:
        try:
            self.cli.run_in_project(lambda api, slug: api.discover.cancel(slug, conversation_id))
        except CliError:
            pass  # it had ended already
        except KeyboardInterrupt:
            pass
        self.cli.streams.message("[reply cancelled]")

    def _decide(
        self, conversation_id: int, action_id: int, decision: str, edits: dict[str, Any] | None
    ) -> Action:
        return self.cli.run_in_project(
            lambda api, slug: api.discover.decide(
                slug, conversation_id, action_id, decision, edits or None
            )
        )

    def _ask(self, conversation_id: int, action: dict[str, Any]) -> None:
        from ..discover_view import card_lines, made_summary

        console = self.cli.streams.console("err")
        for line in card_lines(action):
            console.print(line, style="yellow", markup=False, highlight=False)
        while True:
            try:
                answer = input(QUESTION).strip().lower()
            except (EOFError, KeyboardInterrupt):
                self.cli.streams.message("")
                answer = "s"
            if answer in ("s", "skip", ""):
                self.cli.streams.message(
                    f"  left pending; later: `codality discover confirm {conversation_id}"
                    f" {action['id']}`"
                )
                return
            edits: dict[str, Any] | None = None
            if answer in ("e", "edit"):
                try:
                    edits = edit_proposal(action["proposal"])
                except CliError as exc:
                    exc.show()
                    continue
                answer = "c"
            if answer not in ("c", "confirm", "r", "reject"):
                continue
            decision = "confirm" if answer.startswith("c") else "reject"
            try:
                decided = self._decide(conversation_id, int(action["id"]), decision, edits)
            except CliError as exc:
                exc.show()
                continue
            made = made_summary(decided) if decision == "confirm" else ""
            self.cli.streams.message(f"  {decided['status']}" + (f": {made}" if made else ""))
            return


@app.command("chat")
def chat(
    ctx: typer.Context,
    conversation: Annotated[
        int | None, typer.Argument(help="Conversation id (default: a new conversation).", min=1)
    ] = None,
) -> None:
    """Talk with the model in a REPL; proposals are confirmed, edited or rejected in place."""
    cli = CliContext.of(ctx)
    if not cli.streams.interactive:
        raise CliError(
            "discover chat needs a terminal; use `codality discover say` in scripts",
            ExitCode.USAGE,
        )
    Chat(cli, conversation).start()
