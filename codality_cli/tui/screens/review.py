"""Diff review: files on the left, the coloured diff on the right, comments gathered into a review.

``c`` on a line or ``v`` range adds a pending comment; ``a`` approves and ``R`` requests changes
(sending the pending comments, which restarts the agent). The two actions that end the ticket's
branch are capitals and ask first: ``M`` merges (showing the conflicting paths when the server
refuses), ``D`` discards. ``m`` is never merge: on the ticket screen it means "message agent".

Once the branch is gone the screen says why instead of offering a review of nothing: merged
(then it shows the diff as merged) or discarded, or no work yet; every review action is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.ticket_work import (
    MERGE_AFTERMATH,
    merge_question,
    merged_diff,
    merged_names,
    outcome_of,
    push_outcome,
)
from codality_cli.tui.diff_parse import FileDiff, parse_diff, with_not_shown
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.prompt import PromptScreen
from codality_cli.tui.widgets.diff_view import DiffView
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from codality_cli.api.models import Diff, MergeDiff

REVIEW_ACTIONS = frozenset({"approve", "request_changes", "merge", "discard"})
NO_PENDING = "c: comment on a line · v: mark a range first"
# Below this width the footer drops its command-palette hint so every key fits (80×24).
WIDE_FOOTER = 100


def file_label(diff: FileDiff) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"+{diff.added}", style="green")
    label.append(f" -{diff.removed} ", style="red")
    label.append(diff.path)
    return label


def conflict_paths(error: ApiError) -> list[str]:
    """The files a refused merge names (``details.conflicts``: conflicting or locally edited)."""
    found = error.details.get("conflicts")
    return [str(path) for path in found] if isinstance(found, list) else []


class ReviewScreen(LiveScreen):
    HELP_TITLE = "Diff review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("tab", "switch_pane", "Files/diff", show=False),
        Binding("a", "approve", "Approve"),
        Binding("R", "request_changes", "Request changes", key_display="R"),
        Binding("M", "merge", "Merge", key_display="M"),
        Binding("D", "discard", "Discard", key_display="D"),
    ]

    def __init__(self, slug: str, number: int) -> None:
        super().__init__(id="review")
        self.slug = slug
        self.number = number
        self.files: list[FileDiff] = []
        self.pending: list[dict[str, Any]] = []
        # Why there is nothing to review (merged, discarded, no work yet); None while there is.
        self.no_review: str | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        with Horizontal(id="review-body"):
            yield OptionList(id="files")
            with Vertical(id="diff-pane"):
                yield Static("", id="outcome")
                yield DiffView(id="diff")
                yield Static("", id="conflicts")
                yield Static(NO_PENDING, id="pending")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"{self.slug} #{self.number} · review"
        self.query_one("#files", OptionList).border_title = "Files"
        self.query_one(DiffView).focus()
        self.load()

    @work(exclusive=True, group="review-load")
    async def load(self) -> None:
        try:
            found: Diff | MergeDiff | None = await self.api.reviews.diff(self.slug, self.number)
        except ApiError as exc:
            # A branch-less ticket answers 404/409; what happened to its work is told instead.
            found = await self._explain_no_diff(exc)
        except ServerUnavailable as exc:
            self.notify(f"Loading the diff failed: {exc}", severity="error", timeout=8)
            found = None
        self.files = with_not_shown(
            parse_diff(found["diff"] if found else ""),
            found.get("not_shown", []) if found else [],
        )
        files = self.query_one("#files", OptionList)
        files.set_options(Option(file_label(f), id=str(i)) for i, f in enumerate(self.files))
        if self.files:
            files.highlighted = 0
        self._show(0)

    async def _explain_no_diff(self, error: ApiError) -> MergeDiff | None:
        """Say why there is no diff to review; answers the merged diff when there is one."""
        merged = await merged_diff(self.api, self.slug, self.number)
        status = await self.attempt(self.api.agent.status(self.slug, self.number), "Agent status")
        outcome = outcome_of(merged, status["sessions"] if status else [])
        if outcome is None:
            self.no_review = f"Nothing to review: {error.message}"
        elif outcome == "discarded":
            self.no_review = (
                f"The work on #{self.number} was discarded: nothing to review "
                "(s on the ticket screen starts the agent again)."
            )
        else:
            self.no_review = f"#{self.number} was {outcome}: this is the diff as merged."
        banner = self.query_one("#outcome", Static)
        banner.update(Text(self.no_review, style="bold"))
        banner.add_class("-visible")
        self.query_one("#pending", Static).update("")
        self.sub_title = f"{self.slug} #{self.number} · {outcome or 'no work yet'}"
        self.refresh_bindings()
        return merged if outcome and outcome != "discarded" else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Review actions show as disabled once there is nothing to review."""
        if action in REVIEW_ACTIONS and self.no_review is not None:
            return None
        return True

    def _show(self, index: int) -> None:
        diff = self.files[index] if 0 <= index < len(self.files) else None
        commented = {int(c["line"]) for c in self.pending if diff and c["path"] == diff.path}
        self.query_one(DiffView).show_file(diff, commented)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "files" and event.option.id is not None:
            self._show(int(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "files":
            self.query_one(DiffView).focus()

    def action_switch_pane(self) -> None:
        files = self.query_one("#files", OptionList)
        (self.query_one(DiffView) if files.has_focus else files).focus()

    def action_back(self) -> None:
        self.dismiss()

    # ---- comments --------------------------------------------------------------------------

    def on_diff_view_comment_requested(self, message: DiffView.CommentRequested) -> None:
        if self.no_review is not None:
            self.notify(self.no_review)
            return
        where = f"{message.path}:{message.first}"
        if message.last != message.first:
            where += f"-{message.last}"

        def add(body: str | None) -> None:
            if not body:
                return
            if message.last != message.first:
                body = f"(lines {message.first}-{message.last}) {body}"
            self.pending.append({"path": message.path, "line": message.last, "body": body})
            self.query_one(DiffView).mark_commented(message.last)
            self._show_pending()

        self.app.push_screen(PromptScreen(f"Comment on {where}", "What should change here?"), add)

    def _show_pending(self) -> None:
        count = len(self.pending)
        noun = "comment" if count == 1 else "comments"
        self.query_one("#pending", Static).update(
            f"{count} pending {noun} — a: approve · R: request changes" if count else NO_PENDING
        )

    def on_resize(self) -> None:
        self.query_one(Footer).show_command_palette = self.size.width >= WIDE_FOOTER

    # ---- review, merge, discard ------------------------------------------------------------

    def action_approve(self) -> None:
        self.send_review("approved", "")

    def action_request_changes(self) -> None:
        def send(body: str | None) -> None:
            if body is not None:
                self.send_review("changes_requested", body)

        self.app.push_screen(
            PromptScreen(
                "Request changes: what should the agent do?", allow_empty=bool(self.pending)
            ),
            send,
        )

    @work(exclusive=True, group="review-actions")
    async def send_review(self, state: str, body: str) -> None:
        sent = await self.attempt(
            self.api.reviews.create(self.slug, self.number, state, body, self.pending),
            "Sending the review",
        )
        if sent is None:
            return
        self.pending = []
        self._show_pending()
        if state == "changes_requested":
            self.notify(f"Changes requested on #{self.number}; the agent picks them up.")
            self.dismiss()
        else:
            self.notify(f"Approved #{self.number}.")

    @work(exclusive=True, group="review-actions")
    async def action_merge(self) -> None:
        """Ask with what the merge will do: the tickets it merges and whether it pushes."""
        plan = await self.attempt(self.api.worktrees.merge_plan(self.slug, self.number), "Merging")
        if plan is None:
            return
        question = f"{merge_question(plan)} {MERGE_AFTERMATH}"
        self.app.push_screen(ConfirmScreen(question, "Merge"), self._merge_confirmed)

    def _merge_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.merge()

    @work(exclusive=True, group="review-actions")
    async def merge(self) -> None:
        conflicts = self.query_one("#conflicts", Static)
        try:
            merged = await self.api.worktrees.merge(self.slug, self.number)
        except ApiError as exc:
            paths = conflict_paths(exc)
            listing = "".join(f"\n  {path}" for path in paths)
            conflicts.update(Text(f"Merge refused: {exc.message}{listing}", style="bold red"))
            conflicts.add_class("-visible")
            self.notify_error("Merging", exc)
            return
        conflicts.remove_class("-visible")
        self.notify(f"Merged {merged_names(merged)}; {push_outcome(self.number, merged['push'])}.")
        self.dismiss()

    def action_discard(self) -> None:
        question = (
            f"Discard the work on #{self.number}? The worktree and branch are removed "
            "(the branch tip is kept under refs/codality/discarded/)."
        )
        self.app.push_screen(ConfirmScreen(question, "Discard"), self._discard_confirmed)

    def _discard_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.discard()

    @work(exclusive=True, group="review-actions")
    async def discard(self) -> None:
        done = await self.attempt(self.api.worktrees.discard(self.slug, self.number), "Discarding")
        if done is not None:
            self.notify(f"Discarded the work on #{self.number}.")
            self.dismiss()
