"""``codality plan …``: markdown designs of the current project and their ticket drafts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..editor import edit_text, read_text_arg, text_or_editor
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption, YesOption
from ..output import plain
from ..streams import Streams
from ..suggestions import apply_suggestion
from ..views import plans as views
from ..views.plans import DRAFT_COLUMNS
from ..views.tickets import TICKET_COLUMNS

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import PlanView, ReadinessView, SuggestionView, Ticket

app = typer.Typer(help="Plans: designs that become tickets.", no_args_is_help=True)

BODY_HINT = "Write the plan in markdown: the goal, the design, what is out of scope."

PlanArgument = Annotated[int, typer.Argument(help="Plan id (see `codality plan list`).", min=1)]
BodyOption = Annotated[
    str | None,
    typer.Option("-b", "--body", help="Markdown text; '-' reads stdin; omitted: $EDITOR."),
]
DraftsOption = Annotated[
    Path | None,
    typer.Option(
        "--drafts",
        metavar="FILE",
        help="A JSON list of ticket drafts (title, description, kind, priority, order,"
        " depends_on); '-' reads stdin.",
    ),
]


def read_drafts(source: Path) -> list[dict[str, Any]]:
    """Drafts from a JSON file (or stdin for ``-``): a list, or a plan object with ``drafts``."""
    import sys

    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text("utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read the drafts: {exc}", ExitCode.USAGE) from exc
    except ValueError as exc:
        raise CliError(f"the drafts are not valid JSON: {exc}", ExitCode.USAGE) from exc
    if isinstance(data, dict) and isinstance(data.get("drafts"), list):
        data = data["drafts"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise CliError("the drafts must be a JSON list of objects", ExitCode.USAGE)
    return data


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """List the project's plans, newest first."""
    views.list_plans(CliContext.of(ctx), as_json, fields)


@app.command("create")
def create(
    ctx: typer.Context,
    title: Annotated[
        str | None, typer.Argument(help="Title; omitted: the model names the plan.")
    ] = None,
    body: BodyOption = None,
    drafts: DraftsOption = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Write a plan; without --body on a terminal, $EDITOR opens for it."""
    cli = CliContext.of(ctx)
    fields_: dict[str, Any] = {"title": title or ""}
    if drafts is not None:
        fields_["drafts"] = read_drafts(drafts)
    fields_["body"] = text_or_editor(body, cli.streams.interactive, BODY_HINT) or ""
    plan = cli.run_in_project(lambda api, slug: api.plans.create(slug, fields_))
    name = plan["title"] or "untitled; the model will name it"
    cli.output(as_json, fields).done(f"created plan {plan['id']} ({name})", plan)


@app.command("show")
def show(
    ctx: typer.Context,
    plan_id: PlanArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a plan: its fields, its markdown body and its ticket drafts."""
    views.show(CliContext.of(ctx), plan_id, as_json, fields)


@app.command("edit")
def edit(
    ctx: typer.Context,
    plan_id: PlanArgument,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    body: BodyOption = None,
    drafts: DraftsOption = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Change a plan's title, body or drafts (no option on a terminal: $EDITOR on the body)."""
    cli = CliContext.of(ctx)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if body is not None:
        changes["body"] = read_text_arg(body)
    if drafts is not None:
        changes["drafts"] = read_drafts(drafts)

    async def update(api: ApiClient, slug: str) -> PlanView:
        if not changes:
            if not cli.streams.interactive:
                raise CliError(
                    "nothing to change: pass --title, --body or --drafts", ExitCode.USAGE
                )
            current = await api.plans.get(slug, plan_id)
            changes["body"] = edit_text(current.get("body") or "", BODY_HINT)
        return await api.plans.update(slug, plan_id, changes)

    plan = cli.run_in_project(update)
    cli.output(as_json, fields).done(f"updated plan {plan['id']}", plan)


def plan_name(plan: PlanView) -> str:
    return f"plan {plan['id']}" + (f" ({plan['title']})" if plan["title"] else "")


@app.command("delete")
def delete(ctx: typer.Context, plan_id: PlanArgument, yes: YesOption = False) -> None:
    """Delete a plan (tickets already made from it stay)."""
    cli = CliContext.of(ctx)

    async def delete_(api: ApiClient, slug: str) -> PlanView:
        plan = await api.plans.get(slug, plan_id)
        cli.confirm(f"Delete {plan_name(plan)}?", yes, "delete a plan")
        await api.plans.delete(slug, plan_id)
        return plan

    plan = cli.run_in_project(delete_)
    cli.streams.message(f"deleted {plan_name(plan)}")


@app.command("approve")
def approve(
    ctx: typer.Context,
    plan_id: PlanArgument,
    yes: YesOption = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Turn every draft of a plan into a ticket (all or none) and print the tickets."""
    cli = CliContext.of(ctx)

    async def approve_(api: ApiClient, slug: str) -> tuple[PlanView, list[Ticket]]:
        plan = await api.plans.get(slug, plan_id)
        count = len(plan.get("drafts") or [])
        question = f"Create {count} ticket{'s' if count != 1 else ''} from {plan_name(plan)}?"
        if count and plan.get("status") != "approved":  # else the server says why not
            cli.confirm(question, yes, "approve a plan")
        return plan, await api.plans.approve(slug, plan_id)

    plan, tickets = cli.run_in_project(approve_)
    cli.streams.message(f"approved {plan_name(plan)}: {len(tickets)} tickets created")
    cli.output(as_json, fields).items(tickets, TICKET_COLUMNS)


@app.command("check")
def check(
    ctx: typer.Context,
    plan_id: PlanArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Ask the fast model whether the plan is detailed enough to become tickets; exits 1 when
    it is not (with --json too), so a script can wait for a ready plan."""
    cli = CliContext.of(ctx)
    with cli.streams.spinner("the model is reading the plan…"):
        verdict = cli.run_in_project(lambda api, slug: api.plans.check_ready(slug, plan_id))
    output = cli.output(as_json, fields)
    if output.as_json:
        output.json(output.select(verdict))
    else:
        cli.streams.write("\n".join(readiness_lines(verdict)) + "\n")
    if not verdict.get("ready"):
        raise typer.Exit(ExitCode.ERROR)


def readiness_lines(verdict: ReadinessView) -> list[str]:
    """A readiness verdict as lines: ready or not, why, and each thing missing."""
    lines = ["ready" if verdict["ready"] else "not ready"]
    if verdict["explanation"]:
        lines[0] += f": {verdict['explanation']}"
    return lines + [f"  missing: {item}" for item in verdict["missing"]]


@app.command("extract")
def extract(
    ctx: typer.Context,
    plan_id: PlanArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Have the model split the plan into ordered ticket drafts (stored on the plan)."""
    cli = CliContext.of(ctx)
    with cli.streams.spinner("the model is splitting the plan into tickets…"):
        answer = cli.run_in_project(lambda api, slug: api.plans.extract(slug, plan_id))
    output = cli.output(as_json, fields)
    if output.as_json:
        output.json(output.select(answer))
        return
    for repair in answer.get("repairs") or []:
        cli.streams.message(f"repaired: {repair}")
    drafts = answer.get("drafts") or []
    cli.streams.message(
        f"{len(drafts)} ticket drafts on plan {plan_id}; edit them with"
        f" `codality plan edit {plan_id} --drafts FILE`, then `codality plan approve {plan_id}`"
    )
    output.items(drafts, DRAFT_COLUMNS)


def show_suggestion(streams: Streams, index: int, count: int, suggestion: SuggestionView) -> None:
    """One suggestion for a person: why, the passage it replaces (-) and the new text (+)."""
    from rich.text import Text

    text = Text()
    text.append(f"\nSuggestion {index}/{count}: {suggestion.get('why') or ''}\n", style="bold")
    passage = str(suggestion.get("passage") or "")
    if passage.strip():
        for line in passage.splitlines():
            text.append(f"- {line}\n", style="red")
    else:
        text.append("(added at the end)\n", style="dim")
    for line in str(suggestion.get("text") or "").splitlines():
        text.append(f"+ {line}\n", style="green")
    streams.console("err").print(text, end="")


@app.command("suggest")
def suggest(
    ctx: typer.Context,
    plan_id: PlanArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Have the model read the plan and the code and suggest changes; on a terminal, accept or
    skip each one (accepted ones are saved to the plan)."""
    cli = CliContext.of(ctx)
    quiet = as_json or fields is not None

    async def round_(api: ApiClient, slug: str) -> tuple[PlanView, list[SuggestionView]]:
        import asyncio

        from ..agent_stream import AgentPrinter

        connected = asyncio.Event()
        # The round's text is the model's working, not the answer: all of it goes to stderr,
        # but for the answer's JSON, which is shown as the suggestions it holds.
        printer = AgentPrinter(
            cli.streams, show_thinking=False, text_on_stderr=True, hide_json=True
        )

        async def follow() -> None:
            channels = [f"plan:{plan_id}"]
            async for event in api.events.subscribe(channels, on_connect=connected.set):
                if event.type == "plan:delta" and not quiet and isinstance(event.data, dict):
                    printer.event(event.type, event.data)

        follower = asyncio.create_task(follow())
        try:
            waiting = asyncio.create_task(connected.wait())
            await asyncio.wait({waiting, follower}, return_when=asyncio.FIRST_COMPLETED)
            if follower.done():
                follower.result()  # the stream failed: say why
            suggestions = await api.plans.suggest(slug, plan_id)
        finally:
            follower.cancel()
        printer.finish()
        return await api.plans.get(slug, plan_id), suggestions

    plan, suggestions = cli.run_in_project(round_, stream=True)
    output = cli.output(as_json, fields)
    if output.as_json:
        output.json([output.select(s) for s in suggestions])
        return
    if not suggestions:
        cli.streams.message("no suggestions: the model found nothing to add")
        return
    if not cli.streams.interactive:
        for index, item in enumerate(suggestions, start=1):
            cli.streams.write(
                f"{index}\t{plain(item.get('why'))}\t{plain(item.get('passage'))}"
                f"\t{plain(item.get('text'))}\n"
            )
        return
    body = str(plan.get("body") or "")
    accepted = 0
    for index, item in enumerate(suggestions, start=1):
        show_suggestion(cli.streams, index, len(suggestions), item)
        answer = typer.prompt("[a]ccept, [s]kip, [q]uit", default="s", err=True)
        choice = answer.strip().lower()[:1]
        if choice == "q":
            break
        if choice != "a":
            continue
        applied = apply_suggestion(body, item)
        if applied is None:
            cli.streams.message("its passage is gone (an accepted suggestion changed it); skipped")
            continue
        body, accepted = applied, accepted + 1
    if accepted:
        cli.run_in_project(lambda api, slug: api.plans.update(slug, plan_id, {"body": body}))
    cli.streams.message(f"accepted {accepted} of {len(suggestions)} suggestions")
