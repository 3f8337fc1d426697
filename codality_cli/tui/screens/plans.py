"""Plans: the project's plans beside the selected one — its rendered markdown body (or an editor
for it), the model's suggestions beside it (accept or dismiss each), its readiness, its ticket
drafts, and approval into tickets after a confirmation. A suggestion round streams into a
``Transcript``, the widget of a ticket's runs and of the discovery chat, from its ``plan:delta``
events.

The list answer carries whole plans, so selecting one needs no request; ``plan:*`` events keep the
list and the open plan current. While the body is being edited, events do not overwrite it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Label, Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from codality_cli.prose import ProseFilter
from codality_cli.suggestions import apply_suggestion
from codality_cli.tui.messages import EventReceived
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.prompt import PromptScreen
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.title_bar import TitleBar
from codality_cli.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from codality_cli.api.models import PlanDraftView, SuggestionView
    from codality_cli.api.models import PlanView as Plan
DRAFT_COLUMNS = (
    ("order", "#"),
    ("title", "title"),
    ("kind", "kind"),
    ("priority", "priority"),
    ("depends_on", "depends on"),
    ("ticket", "ticket"),
)


def plan_label(plan: Plan) -> Text:
    """One line of the list: title (or *untitled*), then status and number of drafts."""
    text = Text()
    title = str(plan.get("title") or "")
    text.append(title or "untitled", style="" if title else "italic dim")
    drafts = len(plan.get("drafts") or [])
    text.append(f"\n{plan.get('status', '')} · {drafts} draft{'s' if drafts != 1 else ''}")
    text.stylize("dim", len(title or "untitled"))
    return text


def plan_header(plan: Plan) -> Text:
    """The open plan's title and state, with the last readiness check when there is one."""
    text = Text()
    text.append(str(plan.get("title") or "Untitled plan"), style="bold")
    text.append(
        f"  {plan.get('status', '')}",
        style="bold green" if plan.get("status") == "approved" else "dim",
    )
    readiness = plan.get("readiness")
    if isinstance(readiness, dict):
        ready = bool(readiness.get("ready"))
        text.append("\nready" if ready else "\nnot ready", style="green" if ready else "yellow")
        explanation = str(readiness.get("explanation") or "")
        if explanation:
            text.append(f": {explanation}")
        for missing in readiness.get("missing") or []:
            text.append(f"\n  · {missing}", style="yellow")
    return text


def suggestion_label(item: SuggestionView) -> Text:
    """A suggestion in the list: why, then what it replaces and the new text, shortened."""
    text = Text()
    text.append(str(item.get("why") or "Suggestion"), style="bold")
    passage = " ".join(str(item.get("passage") or "").split())
    if passage:
        text.append(f"\n- {passage[:60]}", style="red")
    else:
        text.append("\n(added at the end)", style="dim")
    new = " ".join(str(item.get("text") or "").split())
    text.append(f"\n+ {new[:60]}", style="green")
    return text


def draft_cells(draft: PlanDraftView) -> list[str]:
    depends = " ".join(str(n) for n in draft.get("depends_on") or [])
    ticket = f"#{draft['ticket']}" if draft.get("ticket") else ""
    return [
        str(draft.get("order", "")),
        str(draft.get("title", "")),
        str(draft.get("kind", "")),
        str(draft.get("priority", "")),
        depends,
        ticket,
    ]


class PlansScreen(LiveScreen):
    HELP_TITLE = "Plans"
    WANTS_DELTAS = True
    # Under 120 columns (80×24 say) the list narrows and the editor takes the suggestions' room.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - as Textual types it
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("n", "new_plan", "New plan"),
        Binding("e", "edit", "Edit body"),
        Binding("ctrl+s", "save", "Save body", priority=True),
        Binding("s", "suggest", "Suggest"),
        Binding("d", "dismiss_suggestion", "Dismiss suggestion", show=False),
        Binding("c", "check", "Check readiness"),
        Binding("x", "extract", "Extract tickets"),
        Binding("a", "approve", "Approve"),
        Binding("D", "delete", "Delete", key_display="D"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, slug: str) -> None:
        super().__init__(id="plans")
        self.slug = slug
        self.plans: dict[int, Plan] = {}
        self.current: int | None = None
        self.project_id: int | None = None
        self.editing = False
        self.pending: list[SuggestionView] = []  # suggestions not yet accepted or dismissed
        self.prose = ProseFilter()  # the round's open text block, without its JSON
        self.prose_block: Any = None
        self.sub_title = f"{slug} plans"

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        with Horizontal(id="plans-body"):
            yield OptionList(id="plan-list")
            with Vertical(id="plan-pane"):
                yield Static("No plan yet: n writes one.", id="plan-header")
                with Horizontal(id="plan-main"):
                    with VerticalScroll(id="plan-doc"):
                        yield Markdown("", id="plan-markdown")
                    yield TextArea("", id="plan-editor", soft_wrap=True, show_line_numbers=False)
                    with Vertical(id="suggestion-pane"):
                        yield Label("Suggestions", classes="section")
                        yield Static("s asks the model", id="suggest-status")
                        yield Transcript(id="suggest-log")
                        yield OptionList(id="suggestions")
                yield Label("Ticket drafts", classes="section")
                yield DataTable(id="drafts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#drafts", DataTable)
        for key, label in DRAFT_COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#plan-list", OptionList).focus()
        self.load()

    # ---- loading and showing ---------------------------------------------------------------

    @work(exclusive=True, group="plans-load")
    async def load(self) -> None:
        project = await self.attempt(self.api.projects.get(self.slug), "Loading the project")
        plans = await self.attempt(self.api.plans.list(self.slug), "Loading the plans")
        if project is None or plans is None or not self.is_parent_active:
            return
        self.project_id = int(project["id"])
        self.title = str(project.get("name") or self.slug)
        self.plans = {int(plan["id"]): plan for plan in plans}
        if self.current not in self.plans:
            self.current = next(iter(self.plans), None)
        if self.plan is not None:
            self.pending = self._pending_of(self.plan)
        self._show_list()
        self._show_plan()

    @property
    def plan(self) -> Plan | None:
        return self.plans.get(self.current) if self.current is not None else None

    def _show_list(self) -> None:
        options = self.query_one("#plan-list", OptionList)
        options.clear_options()
        ordered = sorted(self.plans.values(), key=lambda p: -int(p["id"]))
        options.add_options([Option(plan_label(p), id=str(p["id"])) for p in ordered])
        if self.current is not None:
            options.highlighted = options.get_option_index(str(self.current))

    def _show_plan(self) -> None:
        plan = self.plan
        header = self.query_one("#plan-header", Static)
        table = self.query_one("#drafts", DataTable)
        table.clear()
        if plan is None:
            header.update("No plan yet: n writes one.")
            self.query_one("#plan-markdown", Markdown).update("")
            return
        header.update(plan_header(plan))
        if not self.editing:
            body = str(plan.get("body") or "") or "*Empty: e writes the plan.*"
            self.query_one("#plan-markdown", Markdown).update(body)
        for draft in plan.get("drafts") or []:
            table.add_row(*draft_cells(draft), key=str(draft.get("order")))
        self._show_suggestions()

    def _show_suggestions(self) -> None:
        options = self.query_one("#suggestions", OptionList)
        options.clear_options()
        options.add_options(
            [Option(suggestion_label(item), id=str(i)) for i, item in enumerate(self.pending)]
        )
        if self.pending:
            options.highlighted = 0

    def _pending_of(self, plan: Plan) -> list[SuggestionView]:
        """The plan's last suggestions that still apply and are not in the body yet."""
        body = str(plan.get("body") or "")
        return [
            item
            for item in plan.get("suggestions") or []
            if apply_suggestion(body, item) is not None and str(item.get("text")) not in body
        ]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id != "plan-list" or event.option.id is None or self.editing:
            return
        chosen = int(event.option.id)
        if chosen != self.current:
            self._clear_round()
            self.current = chosen
            self.pending = self._pending_of(self.plans[chosen])
            self._show_plan()

    # ---- live events -----------------------------------------------------------------------

    def on_event_received(self, event: EventReceived) -> None:
        if not event.type.startswith("plan:"):
            return
        if event.type == "plan:delta":
            if event.data.get("plan_id") == self.current:
                self._show_delta(event.data)
            return
        plan_id = int(event.data.get("id") or 0)
        if event.type == "plan:deleted":
            if self.plans.pop(plan_id, None) is None:
                return
            if self.current == plan_id:
                self.current = next(iter(sorted(self.plans, reverse=True)), None)
                self._stop_editing()
        elif event.type in ("plan:created", "plan:updated"):
            if event.data.get("project_id") != self.project_id:
                return
            self.plans[plan_id] = cast("Plan", event.data)  # plan:created/updated carry the plan
            if self.current is None:
                self.current = plan_id
        else:
            return
        self._show_list()
        self._show_plan()

    # ---- editing ---------------------------------------------------------------------------

    def _start_editing(self, body: str) -> None:
        self.editing = True
        editor = self.query_one("#plan-editor", TextArea)
        editor.load_text(body)
        self.set_class(True, "-editing")
        editor.focus()

    def _stop_editing(self) -> None:
        self.editing = False
        self.set_class(False, "-editing")
        self.query_one("#plan-list", OptionList).focus()

    def action_edit(self) -> None:
        plan = self.plan
        if plan is not None and not self.editing:
            self._start_editing(str(plan.get("body") or ""))

    def action_save(self) -> None:
        if self.editing and self.current is not None:
            self.save_body(self.current, self.query_one("#plan-editor", TextArea).text)

    @work(group="plans-actions")
    async def save_body(self, plan_id: int, body: str, editing: bool = True) -> None:
        saved = await self.attempt(
            self.api.plans.update(self.slug, plan_id, {"body": body}), "Saving the plan"
        )
        if saved is not None:
            self.plans[plan_id] = saved
            if editing:
                self._stop_editing()
            self._show_plan()
            self.notify("Plan saved")

    def action_back(self) -> None:
        if self.editing:
            self._stop_editing()  # drop the unsaved text
            self._show_plan()
        else:
            self.dismiss()

    # ---- creating, approving, deleting -----------------------------------------------------

    def action_new_plan(self) -> None:
        if not self.editing:
            question = "Title of the new plan (empty: the model names it)"
            self.app.push_screen(PromptScreen(question, allow_empty=True), self._create)

    def _create(self, title: str | None) -> None:
        if title is not None:
            self.create_plan(title)

    @work(group="plans-actions")
    async def create_plan(self, title: str) -> None:
        plan = await self.attempt(
            self.api.plans.create(self.slug, {"title": title, "body": ""}), "Creating a plan"
        )
        if plan is not None:
            self.plans[int(plan["id"])] = plan
            self.current = int(plan["id"])
            self._show_list()
            self._show_plan()
            self._start_editing("")

    # ---- the model -------------------------------------------------------------------------

    def _clear_round(self) -> None:
        """Hide the last round's transcript (a new round starts, another plan is open)."""
        log = self.query_one("#suggest-log", Transcript)
        log.clear()
        log.display = False
        self.prose, self.prose_block = ProseFilter(), None

    def _show_delta(self, data: dict[str, Any]) -> None:
        """A delta of the running round in its transcript, its prose only: the answer's JSON
        is the suggestions beside it, never text (``ProseFilter``, as ``plan suggest``)."""
        log = self.query_one("#suggest-log", Transcript)
        log.display = True
        if data.get("kind") != "text":
            self._end_prose()
            log.add_event("plan:delta", data)
            return
        if data.get("block") != self.prose_block:
            self._end_prose()
            self.prose_block = data.get("block")
        shown = self.prose.feed(str(data.get("text") or ""))
        if shown:  # where it starts in the block no longer says anything: what is shown differs
            log.add_event("plan:delta", {**data, "text": shown, "at": None})

    def _end_prose(self) -> None:
        """The open text block is over: show what the filter held that is not JSON."""
        rest = self.prose.end()
        if rest:
            delta = {"kind": "text", "text": rest, "block": self.prose_block, "at": None}
            self.query_one("#suggest-log", Transcript).add_event("plan:delta", delta)
        self.prose_block = None

    def action_suggest(self) -> None:
        if self.plan is not None and not self.editing:
            self.suggest(int(self.plan["id"]))

    @work(exclusive=True, group="plans-model")
    async def suggest(self, plan_id: int) -> None:
        self._clear_round()
        status = self.query_one("#suggest-status", Static)
        status.update("The model is reading the plan and the code…")
        found = await self.attempt(self.api.plans.suggest(self.slug, plan_id), "Suggesting")
        if found is None:
            status.update("s asks the model")
            return
        if self.current == plan_id:
            self.pending = list(found)
            self._show_suggestions()
            if found:
                self.query_one("#suggestions", OptionList).focus()
        count = len(found)
        status.update(
            f"{count} suggestion{'s' if count != 1 else ''}: enter accepts, d dismisses"
            if count
            else "No suggestions: the plan looks complete."
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "suggestions" and event.option.id is not None:
            self.accept(int(event.option.id))

    def accept(self, index: int) -> None:
        plan = self.plan
        if plan is None or not 0 <= index < len(self.pending):
            return
        body = apply_suggestion(str(plan.get("body") or ""), self.pending[index])
        del self.pending[index]
        self._show_suggestions()
        if body is None:
            self.notify("That suggestion no longer fits the plan; dismissed", severity="warning")
            return
        self.save_body(int(plan["id"]), body, editing=False)

    def action_dismiss_suggestion(self) -> None:
        options = self.query_one("#suggestions", OptionList)
        index = options.highlighted
        if index is not None and 0 <= index < len(self.pending):
            del self.pending[index]
            self._show_suggestions()

    def action_check(self) -> None:
        if self.plan is not None and not self.editing:
            self.check(int(self.plan["id"]))

    @work(exclusive=True, group="plans-model")
    async def check(self, plan_id: int) -> None:
        self.notify("Asking the model whether the plan is ready…")
        verdict = await self.attempt(self.api.plans.check_ready(self.slug, plan_id), "Checking")
        if verdict is None:
            return
        plan = self.plans.get(plan_id)
        if plan is not None:
            self.plans[plan_id] = {**plan, "readiness": verdict}
            self._show_plan()
        self.notify("Ready for tickets" if verdict.get("ready") else "Not ready yet")

    def action_extract(self) -> None:
        if self.plan is not None and not self.editing:
            self.extract(int(self.plan["id"]))

    @work(exclusive=True, group="plans-model")
    async def extract(self, plan_id: int) -> None:
        self.notify("The model is splitting the plan into tickets…")
        answer = await self.attempt(self.api.plans.extract(self.slug, plan_id), "Extracting")
        if answer is None:
            return
        self.plans[plan_id] = answer["plan"]
        self._show_list()
        self._show_plan()
        repairs = answer.get("repairs") or []
        drafts = len(answer.get("drafts") or [])
        note = f" ({len(repairs)} repaired: {'; '.join(repairs)})" if repairs else ""
        self.notify(f"{drafts} ticket drafts; a approves them{note}", timeout=10)

    def action_approve(self) -> None:
        plan = self.plan
        if plan is None or self.editing:
            return
        count = len(plan.get("drafts") or [])
        name = str(plan.get("title") or f"plan {plan['id']}")
        question = f"Create {count} ticket{'s' if count != 1 else ''} from {name!r}?"
        plan_id = int(plan["id"])
        self._after_yes(ConfirmScreen(question, "Approve"), lambda: self.approve(plan_id))

    @work(group="plans-actions")
    async def approve(self, plan_id: int) -> None:
        tickets = await self.attempt(self.api.plans.approve(self.slug, plan_id), "Approving")
        if tickets is None:
            return
        numbers = ", ".join(f"#{t['number']}" for t in tickets)
        self.notify(f"Created {len(tickets)} tickets: {numbers}")
        plan = await self.attempt(self.api.plans.get(self.slug, plan_id), "Reloading the plan")
        if plan is not None:
            self.plans[plan_id] = plan
            self._show_list()
            self._show_plan()

    def action_delete(self) -> None:
        plan = self.plan
        if plan is None or self.editing:
            return
        name = str(plan.get("title") or f"plan {plan['id']}")
        plan_id = int(plan["id"])
        question = f"Delete {name!r}? Tickets made from it stay."
        self._after_yes(ConfirmScreen(question, "Delete"), lambda: self.delete(plan_id))

    @work(group="plans-actions")
    async def delete(self, plan_id: int) -> None:
        async def delete_() -> bool:
            await self.api.plans.delete(self.slug, plan_id)
            return True

        if not await self.attempt(delete_(), "Deleting the plan"):
            return
        self.plans.pop(plan_id, None)
        if self.current == plan_id:
            self.current = next(iter(sorted(self.plans, reverse=True)), None)
        self._show_list()
        self._show_plan()

    def _after_yes(self, confirm: ConfirmScreen, then: Callable[[], object]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(confirm, answered)

    def action_reload(self) -> None:
        self.load()

    def on_connection_restored(self) -> None:
        self.load()
