"""The ``codality`` command: global options, the noun sub-apps, and ``run()``.

Only typer and stdlib are imported at module level, here and in every module this one imports;
httpx, rich, keyring and platformdirs load inside the commands that use them, so ``--help`` and
completion stay fast (tests/test_import_hygiene.py checks it).
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from typer._click.core import Context as ClickContext
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup, TyperOption
from typer.models import CommandInfo

from . import __version__
from .context import APP_BUILDER, CliContext
from .errors import CliError, ExitCode
from .settings import CliSettings, check_server_url
from .streams import Streams

# Every command, in the order help lists them: the words it answers to, and where it lives —
# "module:attribute" for a noun's Typer sub-app, a module name for one whose ``register(app)``
# adds top-level commands. Only the command being run is imported and built: building the
# whole tree costs ~20 ms per invocation (typer inspects every signature).
COMMANDS: list[tuple[tuple[str, ...], str]] = [
    (("server",), "server:app"),
    (("login", "logout", "auth"), "auth"),
    (("project",), "project:app"),
    (("ticket",), "ticket:ticket_app"),
    (("plan",), "plan:app"),
    (("discover",), "discover:app"),
    (("queue",), "queue:app"),
    (("pr",), "pr:app"),
    (("github",), "github:app"),
    (("user",), "user:app"),
    (("me",), "me:app"),
    (("settings",), "settings:app"),
    (("events",), "events"),
    (("tui",), "board"),
    (("api",), "api_cmd"),
    (("completion",), "completion"),
    (("demo",), "demo"),
    (("__complete",), "complete"),
]
# Modules that add verbs to ``ticket_app`` (comments, the agent, review).
TICKET_VERBS = ("comment", "agent", "review")
# Global options that take a value, so the command word can be found without parsing.
VALUE_OPTIONS = {"--server", "--data-dir", "-p", "--project", "--ca-cert"}


class BriefUsageError(UsageError):
    """A usage error as one ``error:`` line and a hint, instead of click's usage block."""

    def show(self, file: Any = None) -> None:
        from .wording import usage_message

        message = usage_message(self.format_message())
        where = self.ctx.command_path if self.ctx is not None else "codality"
        (file or sys.stderr).write(f"error: {message}\nhint: see `{where} --help`\n")


def brief(exc: UsageError) -> UsageError:
    """``exc`` in the one-line form (the help page shown for a bare noun stays as it is)."""
    if isinstance(exc, NoArgsIsHelpError | BriefUsageError):
        return exc
    return BriefUsageError(exc.format_message(), exc.ctx)


class CodalityGroup(TyperGroup):
    """The root command: a ``CliError`` from any command becomes its one ``error: …`` line and
    its exit code (under ``CliRunner`` too, which never goes through ``run``); usage errors are
    one line and a hint; global options are taken after the noun and verb too."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, hoist_global_options(self, ctx, args))
        except UsageError as exc:
            raise brief(exc) from exc

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CliError as exc:
            exc.show()
            raise typer.Exit(exc.exit_code) from exc
        except UsageError as exc:
            raise brief(exc) from exc


def _option_names(command: Any, ctx: ClickContext) -> dict[str, bool]:
    """Every option name of ``command`` (help included), and whether it takes a value."""
    names: dict[str, bool] = {}
    for param in command.get_params(ctx):
        if isinstance(param, TyperOption):
            takes_value = not param.is_flag and not param.count
            for name in (*param.opts, *param.secondary_opts):
                names[name] = takes_value
    return names


def _option_name(token: str) -> str:
    """``--server=URL`` → ``--server``; ``-pshop`` → ``-p``; other tokens unchanged."""
    if token.startswith("--"):
        return token.partition("=")[0]
    return token[:2]


def hoist_global_options(root: TyperGroup, ctx: ClickContext, args: list[str]) -> list[str]:
    """``args`` with the root's options that follow the noun or verb moved to the front, so
    ``codality ticket list -p shop`` means ``codality -p shop ticket list`` (as in ``gh``).

    An option the command itself defines (``tui -p``) stays the command's; the values of the
    command's own options are skipped, never taken for option names.
    """
    global_names = _option_names(root, ctx)
    for name in ctx.help_option_names:
        global_names.pop(name, None)
    hoisted: list[str] = []
    kept: list[str] = []
    command: Any = root
    own = global_names
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            kept += args[index - 1 :]
            break
        if token.startswith("-") and len(token) > 1:
            name = _option_name(token)
            inline = token != name  # ``--opt=value`` or ``-pVALUE``
            target = kept
            if command is not root and name not in own and name in global_names:
                target, takes_value = hoisted, global_names[name]
            else:
                takes_value = own.get(name, False)
            target.append(token)
            if takes_value and not inline and index < len(args):
                target.append(args[index])
                index += 1
            continue
        kept.append(token)
        if isinstance(command, TyperGroup):
            sub = command.get_command(ctx, token)
            if sub is None:
                kept += args[index:]
                break
            command, own = sub, _option_names(sub, ctx)
    return hoisted + kept


def _new_app() -> typer.Typer:
    return typer.Typer(
        cls=CodalityGroup,
        name="codality",
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        # Bare ``codality`` opens the board on a terminal and prints this help otherwise (``root``).
        no_args_is_help=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"codality {__version__}\n")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="A remote server (default: CODALITY_URL, else the local one).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="The local data dir (default: CODALITY_DATA_DIR, else the platform's).",
        ),
    ] = None,
    project_slug: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--project",
            metavar="SLUG",
            help="The project (default: CODALITY_PROJECT, else the one holding the cwd).",
        ),
    ] = None,
    ca_cert: Annotated[
        Path | None,
        typer.Option(
            "--ca-cert",
            metavar="FILE",
            help="Also trust this CA (PEM) for an https:// server (default: CODALITY_CA_CERT).",
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also: NO_COLOR).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Codality: tickets, AI agents and reviews for your git repositories, from the terminal.

    Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 authentication needed,
    5 server unreachable, 6 conflict, 7 agent session ended unsuccessfully.
    """
    settings_ = CliSettings.load(
        data_dir=data_dir,
        server=server_url,
        project=project_slug,
        no_color=no_color,
        ca_cert=ca_cert,
    )
    if settings_.remote_url is not None:
        check_server_url(settings_.remote_url, "--server" if server_url else "CODALITY_URL")
    if settings_.ca_cert is not None and not settings_.ca_cert.is_file():
        raise CliError(f"--ca-cert: no such file {settings_.ca_cert}", ExitCode.USAGE)
    # Tests may hand in Streams (to say which stream is a terminal); otherwise the process's.
    streams = ctx.obj if isinstance(ctx.obj, Streams) else Streams.system(settings_.no_color)
    streams.no_color = settings_.no_color or streams.no_color
    ctx.obj = CliContext(settings_, streams)
    ctx.meta[APP_BUILDER] = build_app
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        if streams.out_tty and sys.stdin.isatty():
            from .commands import board

            board.open_board(ctx.obj, settings_.project)
        else:
            streams.write(ctx.get_help() + "\n")
        raise typer.Exit()


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"codality_cli.commands.{name}")


def build_app(only: str | None = None, verb: str | None = None) -> typer.Typer:
    """The root app with every command, or with just the one named ``only`` — and of a noun's
    verbs just ``verb`` when it names one (typer reads every command's signature it builds)."""
    app = _new_app()
    app.callback(invoke_without_command=True)(root)
    for words, where in COMMANDS:
        if only is not None and only not in words:
            continue
        module, _, attribute = where.partition(":")
        if not attribute:
            _command_module(module).register(app)
            continue
        if words == ("ticket",):
            for verbs in TICKET_VERBS:
                _command_module(verbs)
        if words == ("discover",):
            _command_module("discover_chat")  # adds ``say`` and ``chat``
        noun = getattr(_command_module(module), attribute)
        app.add_typer(only_verb(noun, verb) if only is not None else noun, name=words[0])
    return app


def command_word(info: CommandInfo) -> str:
    """The word a registered command answers to (typer's own rule when it has no name)."""
    if info.name:
        return info.name
    callback = info.callback
    return getattr(callback, "__name__", "").lower().replace("_", "-")


def only_verb(noun: typer.Typer, verb: str | None) -> typer.Typer:
    """``noun`` with only the command ``verb`` (a copy), or unchanged when it has no such one."""
    chosen = [info for info in noun.registered_commands if command_word(info) == verb]
    if not chosen:
        return noun
    narrowed = copy.copy(noun)
    narrowed.registered_commands = chosen
    narrowed.registered_groups = []
    return narrowed


def invoked_words(argv: list[str]) -> tuple[str | None, str | None]:
    """The command word of ``argv`` when it names a known command (else None: build them all),
    and the word after it (a noun's verb, if it is one)."""
    words: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in VALUE_OPTIONS and len(words) < 2:
            next(args, None)
        elif arg.startswith("-"):
            continue
        else:
            words.append(arg)
            if len(words) == 2:
                break
    if not words or not any(words[0] in known for known, _ in COMMANDS):
        return None, None
    return words[0], words[1] if len(words) > 1 else None


def invoked_command(argv: list[str]) -> str | None:
    """The command word of ``argv`` when it names a known command, else None (build them all)."""
    return invoked_words(argv)[0]


def __getattr__(name: str) -> typer.Typer:
    """``main.app``: the whole command tree (tests, docs and completions use it)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def run() -> None:
    """Console-script entry point: never a traceback, always a documented exit code."""
    try:
        build_app(*invoked_words(sys.argv[1:]))(prog_name="codality")
    except CliError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one readable line
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        sys.exit(ExitCode.ERROR)
