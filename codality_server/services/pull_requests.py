"""Pull requests for tickets (docs §8.2): open one by pushing the ticket's branch, read its live
status, sync its comments, re-push, merge on GitHub, and post Codality's own check runs.

Pushes carry the installation token as an HTTP password (``git/remote.py``): it is never written
to ``.git/config``, a log line or an answer. Git work takes the repository's lock.
What GitHub tells us later (merged, closed, checks, reviews) arrives through ``webhooks.py``,
which calls the ``on_…`` methods here.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from codality_server.db import github as db_github
from codality_server.db import reviews as db_reviews
from codality_server.domain import github as gh
from codality_server.domain.errors import Conflict, NotFound
from codality_server.domain.events import PullRequestCreated, PullRequestUpdated
from codality_server.domain.projects import Project
from codality_server.domain.reviews import MergeDiff
from codality_server.domain.sessions import Owner, SessionStatus
from codality_server.domain.ticket_moves import Action
from codality_server.domain.tickets import Ticket, ticket_branch
from codality_server.domain.users import User
from codality_server.domain.work_names import AGENT_IDENTITY, work_subject
from codality_server.git import remote
from codality_server.git.diff import commit_diff
from codality_server.git.network import RemoteError, with_deadline
from codality_server.github.client import GitHubClient, GitHubError

from .base import Core, RepoLocks, Service, now_iso
from .github import unavailable

if TYPE_CHECKING:
    from .agent_sessions import AgentSessionService
    from .comments import CommentService
    from .github import GitHubService
    from .projects import ProjectService
    from .settings import SettingsService
    from .stacks import StackService
    from .ticket_agent import TicketAgentService
    from .tickets import TicketService
    from .worktrees import WorktreeService

log = logging.getLogger("codality.github")
MERGE_METHODS = ("merge", "squash", "rebase")


class PullRequestService(Service):
    """A ticket's pull request, from opening to merge."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        projects: ProjectService,
        tickets: TicketService,
        ticket_comments: CommentService,
        stacks: StackService,
        github: GitHubService,
        agent_sessions: AgentSessionService,
        agent: TicketAgentService,
        worktrees: WorktreeService,
        repo_lock: RepoLocks,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.projects = projects
        self.tickets = tickets
        self.ticket_comments = ticket_comments
        self.stacks = stacks
        self.github = github
        self.agent_sessions = agent_sessions
        self.agent = agent
        self.worktrees = worktrees
        self.repo_lock = repo_lock

    # --- reading ----------------------------------------------------------------------------

    async def find(self, ticket_id: int) -> gh.PullRequest | None:
        return await db_github.pr_for_ticket(self.db.reader, ticket_id)

    async def _stored(self, slug: str, number: int) -> tuple[Project, Ticket, gh.PullRequest]:
        project, ticket = await self.tickets.get(slug, number)
        pr = await self.find(ticket.id)
        if pr is None:
            raise NotFound(
                f"ticket #{number} has no pull request; open one with `codality pr create {number}`"
            )
        return project, ticket, pr

    async def get(self, slug: str, number: int) -> dict[str, Any]:
        _, _, pr = await self._stored(slug, number)
        return pr.view()

    async def list(self, slug: str) -> builtins.list[dict[str, Any]]:
        project = await self.projects.get(slug)
        return [pr.view() for pr in await db_github.prs_for_project(self.db.reader, project.id)]

    # --- opening and updating -----------------------------------------------------------------

    @staticmethod
    def _linked(project: Project) -> tuple[str, str]:
        if not (project.github_owner and project.github_repo):
            raise Conflict(
                f"project {project.slug!r} is not linked to a GitHub repository; run"
                " `codality github link`",
                {"reason": "not_linked"},
            )
        return project.github_owner, project.github_repo

    async def _push(
        self,
        project: Project,
        ticket: Ticket,
        user: User | None,
        token: str,
        below: Ticket | None = None,
    ) -> tuple[str, str]:
        """Commit what the worktree still holds and push the ticket's branch; (branch, sha).
        With ``below`` (the dependency a stacked PR sits on) its branch goes first, as
        committed, so GitHub holds the commit this ticket's work started from."""
        branch = ticket_branch(ticket)
        async with self.repo_lock(project.path):
            if self.agent.is_busy(ticket.id):
                raise Conflict(
                    f"ticket #{ticket.number}'s agent is running; let it finish (or stop it) first",
                    {"reason": "agent_running"},
                )
            identity = user.git_identity if user else AGENT_IDENTITY
            message = f"{work_subject(ticket.title, ticket.number)}: uncommitted work, for the PR"
            await self.worktrees.commit_work(project, ticket, message, identity)
            if below is not None:
                await self._push_branch(project, ticket_branch(below), token)
            sha = await self._push_branch(project, branch, token)
        return branch, sha

    async def _push_branch(self, project: Project, branch: str, token: str) -> str:
        """Push one of Codality's branches to GitHub (the caller holds the repository's lock);
        a rebased one replaces what is there."""
        owner, repo = self._linked(project)
        config = await self.github.app_config()
        timeout = float((await self.settings.current()).git_timeout_s)
        try:
            return await with_deadline(
                partial(
                    remote.push,
                    Path(project.path),
                    config.clone_url(owner, repo),
                    token,
                    branch,
                    timeout,
                    True,
                ),
                timeout,
                "push",
            )
        except RemoteError as exc:
            raise Conflict(
                f"pushing {branch} to {owner}/{repo} failed: {exc}", {"reason": "push_failed"}
            ) from None

    async def _stacked_on(self, ticket: Ticket) -> tuple[Ticket, gh.PullRequest] | None:
        """The unmerged dependency a stacked ticket's PR sits on, and that dependency's open PR
        (None: the ticket is not stacked). Without an open PR there is no base on GitHub that
        shows only this ticket's work: refused, naming the command that opens it."""
        below = await self.stacks.below(ticket)
        if below is None:
            return None
        pr = await self.find(below.id)
        if pr is None or pr.state is not gh.PrState.OPEN:
            raise Conflict(
                f"ticket #{ticket.number} is stacked on #{below.number}, which has no open pull"
                f" request; open that first with `codality pr create {below.number}`",
                {"reason": "dependency_without_pr", "ticket": below.number},
            )
        return below, pr

    async def create(
        self,
        slug: str,
        number: int,
        user: User | None,
        title: str | None = None,
        body: str | None = None,
        draft: bool = False,
    ) -> dict[str, Any]:
        """Push the ticket's branch and open its PR against the default branch — or, for a
        ticket stacked on unmerged work (``services.stacks``), against its dependency's branch
        (pushed first), so the PR shows only this ticket's work; it moves to the default branch
        when the dependency's PR merges (``retarget_stacked``)."""
        project, ticket = await self.tickets.get(slug, number)
        # Set-up first, in the order it is done: connect, install, then link — so the error
        # names the one command to run next, never one that sends the user back here.
        client, token = await self.github.api()
        owner, repo = self._linked(project)
        existing = await self.find(ticket.id)
        if existing is not None and existing.state is gh.PrState.OPEN:
            raise Conflict(
                f"ticket #{number} already has pull request #{existing.number}; push new work with"
                f" `codality pr update {number}`",
                {"reason": "pr_exists", "pull_request": existing.number},
            )
        stacked = await self._stacked_on(ticket)
        base, note = project.default_branch, None
        if stacked is not None:
            below, below_pr = stacked
            base = ticket_branch(below)
            note = gh.stacked_note(below_pr.number, below.number, project.default_branch)
        branch, sha = await self._push(
            project, ticket, user, token, stacked[0] if stacked else None
        )
        pulls = f"/repos/{owner}/{repo}/pulls"
        try:
            found = await client.get(f"{pulls}?state=open&head={owner}:{branch}", token)
            if found:
                data = found[0]
            else:
                data = await client.post(
                    pulls,
                    token,
                    {
                        "title": (title or work_subject(ticket.title, ticket.number)).strip(),
                        "body": body
                        if body is not None
                        else gh.pr_body(ticket.description, number, note),
                        "head": branch,
                        "base": base,
                        "draft": draft,
                    },
                )
        except GitHubError as exc:
            raise unavailable(exc, f"open a pull request for {branch}") from None
        async with self.db.transaction() as conn:
            pr = await db_github.save_pr(
                conn,
                ticket_id=ticket.id,
                project_id=project.id,
                owner=owner,
                repo=repo,
                number=int(data["number"]),
                url=str(data.get("html_url") or ""),
                title=str(data.get("title") or ""),
                head_branch=branch,
                head_sha=str((data.get("head") or {}).get("sha") or sha),
                base_branch=str((data.get("base") or {}).get("ref") or base),
                now=now_iso(),
            )
        self._announce(pr, created=True)
        await self._ticket_changed(project, ticket.id)
        await self.post_agent_check(pr, client, token)
        return pr.view()

    async def update(self, slug: str, number: int, user: User | None) -> dict[str, Any]:
        """Re-push the branch (after new work or a rebase); the PR gets the new head."""
        project, ticket, pr = await self._stored(slug, number)
        if pr.state is not gh.PrState.OPEN:
            raise Conflict(
                f"pull request #{pr.number} is {pr.state.value}", {"reason": "pr_not_open"}
            )
        client, token = await self.github.api()
        below = await self.stacks.below(ticket)
        on_below = below if below is not None and below.branch == pr.base_branch else None
        _, sha = await self._push(project, ticket, user, token, on_below)
        pr = await self._save(pr, head_sha=sha)
        self._announce(pr)
        await self._ticket_changed(project, ticket.id)
        await self.post_agent_check(pr, client, token)
        return pr.view()

    # --- status and comments --------------------------------------------------------------------

    async def status(self, slug: str, number: int) -> dict[str, Any]:
        """The PR as GitHub has it now: state, every check run of the head, review state."""
        project, ticket, pr = await self._stored(slug, number)
        client, token = await self.github.api()
        base = f"/repos/{pr.owner}/{pr.repo}"
        try:
            data = await client.get(f"{base}/pulls/{pr.number}", token)
            head = str((data.get("head") or {}).get("sha") or pr.head_sha)
            runs = await client.all(f"{base}/commits/{head}/check-runs", token, key="check_runs")
            reviews = await client.all(f"{base}/pulls/{pr.number}/reviews", token)
        except GitHubError as exc:
            raise unavailable(exc, f"read pull request #{pr.number}") from None
        checks = gh.latest_runs([gh.CheckRun.from_github(r) for r in runs])
        counts = gh.check_counts(checks)
        trusted = (await self.settings.current()).github_trusted_associations
        review = gh.review_state(reviews, trusted)
        state = _pr_state(data)
        async with self.db.transaction() as conn:
            await db_github.save_check_runs(conn, pr.id, checks, now_iso())
        updated = await self._save(
            pr,
            head_sha=head,
            state=state,
            review_state=review,
            checks_passed=counts["passed"],
            checks_failed=counts["failed"],
            checks_pending=counts["pending"],
        )
        if updated.summary() != pr.summary() or updated.head_sha != pr.head_sha:
            self._announce(updated)
            await self._ticket_changed(project, ticket.id)
        return gh.PullRequestStatusView(
            pull_request=updated.shape(),
            mergeable=data.get("mergeable"),
            mergeable_state=data.get("mergeable_state"),
            checks=[c.shape() for c in checks],
            counts=gh.CheckCounts(**counts),
            review_state=review,
        ).model_dump(mode="json")

    async def comments(self, slug: str, number: int) -> builtins.list[dict[str, Any]]:
        """Sync the PR's conversation (comments, reviews, inline comments) and return it."""
        _, _, pr = await self._stored(slug, number)
        client, token = await self.github.api()
        base = f"/repos/{pr.owner}/{pr.repo}"
        try:
            issue = await client.all(f"{base}/issues/{pr.number}/comments", token)
            reviews = await client.all(f"{base}/pulls/{pr.number}/reviews", token)
            inline = await client.all(f"{base}/pulls/{pr.number}/comments", token)
        except GitHubError as exc:
            raise unavailable(exc, f"read the comments of pull request #{pr.number}") from None
        rows = [_comment("issue", c) for c in issue]
        rows += [_comment("review", r) for r in reviews if (r.get("body") or "").strip()]
        rows += [_comment("review_comment", c) for c in inline]
        async with self.db.transaction() as conn:
            await db_github.save_comments(conn, pr.id, rows, now_iso())
        found = await db_github.comments(self.db.reader, pr.id)
        return [comment.model_dump(mode="json") for comment in found]

    async def store_comment(self, pr: gh.PullRequest, kind: str, data: dict[str, Any]) -> None:
        async with self.db.transaction() as conn:
            await db_github.save_comments(conn, pr.id, [_comment(kind, data)], now_iso())

    # --- merging and closing ------------------------------------------------------------------

    async def merge(self, slug: str, number: int, method: str | None) -> dict[str, Any]:
        """Merge on GitHub with the settings' method; GitHub's refusal is a 409 with its reason."""
        project, ticket, pr = await self._stored(slug, number)
        if pr.state is not gh.PrState.OPEN:
            raise Conflict(
                f"pull request #{pr.number} is {pr.state.value}", {"reason": "pr_not_open"}
            )
        await self._refuse_above_open_pr(project, pr)
        chosen = method or (await self.settings.current()).merge_strategy
        client, token = await self.github.api()
        try:
            result = await client.put(
                f"/repos/{pr.owner}/{pr.repo}/pulls/{pr.number}/merge",
                token,
                {"merge_method": chosen, "sha": pr.head_sha},
            )
        except GitHubError as exc:
            if exc.status in (0, 401) or exc.status >= 500:
                raise unavailable(exc, f"merge pull request #{pr.number}") from None
            raise Conflict(
                f"GitHub refused to merge pull request #{pr.number}: {exc.message}",
                {"reason": "github_refused", "github_status": exc.status},
            ) from None
        merged_sha = str(result.get("sha") or "")
        summary = await self.on_merged(project, pr, merged_sha)
        done = await self.find(ticket.id)
        assert done is not None
        return gh.PullRequestMerged(
            merged=True, sha=merged_sha, method=chosen, pull_request=done.shape(), sync=summary
        ).model_dump(mode="json")

    async def _refuse_above_open_pr(self, project: Project, pr: gh.PullRequest) -> None:
        """A stacked PR merges into its base: while that is another open PR's branch, merging
        it would put the work there, not on the default branch. The one below goes first."""
        if pr.base_branch == project.default_branch:
            return
        for below in await db_github.prs_for_project(self.db.reader, project.id):
            if below.state is gh.PrState.OPEN and below.head_branch == pr.base_branch:
                ticket = await self.tickets.get_by_id(below.ticket_id)
                raise Conflict(
                    f"pull request #{pr.number} is stacked on #{below.number} (ticket"
                    f" #{ticket.number}); merge that first with `codality pr merge"
                    f" {ticket.number}`, then this one targets {project.default_branch}",
                    {"reason": "stacked", "pull_request": below.number, "ticket": ticket.number},
                )

    async def retarget_stacked(
        self, project: Project, merged: gh.PullRequest
    ) -> builtins.list[int]:
        """Open PRs based on ``merged``'s branch now target the default branch, which holds
        that work: each shows only its own again. GitHub does this itself only when it deletes
        the merged branch (off by default), and a branch deleted another way closes them.
        Failures are logged: the PRs stay open on the old base for a person to move."""
        client, token = await self.github.api()
        pulls = f"/repos/{merged.owner}/{merged.repo}/pulls"
        query = urlencode({"state": "open", "base": merged.head_branch})
        moved: builtins.list[int] = []
        try:
            stacked = await client.all(f"{pulls}?{query}", token)
            for data in stacked:
                number = int(data["number"])
                await client.patch(f"{pulls}/{number}", token, {"base": project.default_branch})
                moved.append(number)
                kept = await db_github.pr_by_number(
                    self.db.reader, merged.owner, merged.repo, number
                )
                if kept is not None:
                    self._announce(await self._save(kept, base_branch=project.default_branch))
        except GitHubError as exc:
            log.warning("moving PRs off %s failed: %s", merged.head_branch, exc)
        return moved

    async def close_for_discard(self, ticket: Ticket) -> gh.PullRequest | None:
        """Discarding a ticket closes its open PR on GitHub first (docs §8.2)."""
        pr = await self.find(ticket.id)
        if pr is None or pr.state is not gh.PrState.OPEN:
            return None
        client, token = await self.github.api()
        try:
            await client.patch(
                f"/repos/{pr.owner}/{pr.repo}/pulls/{pr.number}", token, {"state": "closed"}
            )
        except GitHubError as exc:
            raise unavailable(exc, f"close pull request #{pr.number}") from None
        closed = await self._save(pr, state=gh.PrState.CLOSED, closed_at=now_iso())
        self._announce(closed)
        return closed

    # --- what GitHub tells us (webhooks) --------------------------------------------------------

    async def on_merged(self, project: Project, pr: gh.PullRequest, merged_sha: str) -> str:
        """Merged on GitHub: the ticket is done, its worktree goes, the local default branch
        follows GitHub. Safe to run twice (the API merge and its webhook both call it)."""
        if pr.state is not gh.PrState.MERGED:
            pr = await self._save(
                pr, state=gh.PrState.MERGED, merged_sha=merged_sha or None, closed_at=now_iso()
            )
            self._announce(pr)
        ticket = await self.tickets.get_by_id(pr.ticket_id)
        notes: list[str] = []
        if ticket.branch or ticket.worktree_path:
            await self.worktrees.remove_merged(project, ticket)
            notes.append("worktree removed")
        notes.append(await self.sync_default_branch(project, rebase=False))
        if merged_sha:
            await self._keep_merge_diff(project, ticket, merged_sha)
        moved = await self.retarget_stacked(project, pr)
        if moved:
            numbers = ", ".join(f"#{n}" for n in moved)
            notes.append(f"pull request {numbers} now targets {project.default_branch}")
        if await self.tickets.react(ticket.id, Action.PR_MERGED):
            notes.insert(0, f"ticket #{ticket.number} → done")
        return "; ".join(notes)

    async def on_closed(self, project: Project, pr: gh.PullRequest) -> str:
        """Closed without merging: the ticket is cancelled (its worktree stays for a look)."""
        if pr.state is gh.PrState.OPEN:
            pr = await self._save(pr, state=gh.PrState.CLOSED, closed_at=now_iso())
            self._announce(pr)
        ticket = await self.tickets.get_by_id(pr.ticket_id)
        if await self.tickets.react(ticket.id, Action.PR_CLOSED) is None:
            return f"ticket #{ticket.number} already {ticket.status.value}"
        return f"ticket #{ticket.number} → cancelled"

    async def on_pr_changed(
        self, project: Project, pr: gh.PullRequest, data: dict[str, Any]
    ) -> str:
        """Opened, reopened, synchronized or edited on GitHub: keep head, title and state."""
        head = str((data.get("head") or {}).get("sha") or pr.head_sha)
        state = _pr_state(data)
        updated = await self._save(
            pr,
            head_sha=head,
            title=str(data.get("title") or pr.title),
            state=state,
            base_branch=str((data.get("base") or {}).get("ref") or pr.base_branch),
        )
        if updated.view() != pr.view():
            self._announce(updated)
            await self._ticket_changed(project, pr.ticket_id)
        return f"pull request #{pr.number} head {head[:10]}"

    async def on_check_run(
        self, project: Project, run: gh.CheckRun
    ) -> builtins.list[gh.PullRequest]:
        """Store a check run for the PRs whose head it belongs to; refresh their counts."""
        assert project.github_owner and project.github_repo
        prs = await db_github.open_prs_for_sha(
            self.db.reader, project.github_owner, project.github_repo, run.head_sha
        )
        changed = []
        for pr in prs:
            async with self.db.transaction() as conn:
                await db_github.save_check_runs(conn, pr.id, [run], now_iso())
                runs = await db_github.check_runs(conn, pr.id, pr.head_sha)
            counts = gh.check_counts(runs)
            updated = await self._save(
                pr,
                checks_passed=counts["passed"],
                checks_failed=counts["failed"],
                checks_pending=counts["pending"],
            )
            self._announce(updated, check=run)
            await self._ticket_changed(project, pr.ticket_id)
            changed.append(updated)
        return changed

    async def on_review(self, project: Project, pr: gh.PullRequest, review: dict[str, Any]) -> str:
        """A review submitted on GitHub: its state counts toward the PR's review state."""
        await self.store_comment(pr, "review", review)
        state = str(review.get("state") or "").lower()
        new = pr.review_state
        if state == "approved":
            new = gh.ReviewState.APPROVED
        elif state == "changes_requested":
            new = gh.ReviewState.CHANGES_REQUESTED
        updated = await self._save(pr, review_state=new)
        self._announce(updated)
        await self._ticket_changed(project, pr.ticket_id)
        return f"review {state or 'submitted'} on pull request #{pr.number}"

    async def set_retry_count(self, pr: gh.PullRequest, count: int) -> gh.PullRequest:
        return await self._save(pr, auto_retry_count=count)

    async def reset_ci(self, pr: gh.PullRequest) -> gh.PullRequest:
        """``/codality retry``: a fresh budget, and the head's CI may be taken up again."""
        return await self._save(pr, auto_retry_count=0, ci_handled_sha=None)

    async def reply(self, pr: gh.PullRequest, body: str) -> None:
        """Post a comment on the PR as the App."""
        client, token = await self.github.api()
        try:
            await client.post(
                f"/repos/{pr.owner}/{pr.repo}/issues/{pr.number}/comments", token, {"body": body}
            )
        except GitHubError as exc:
            raise unavailable(exc, f"comment on pull request #{pr.number}") from None

    # --- the default branch and open worktrees --------------------------------------------------

    async def sync_default_branch(self, project: Project, rebase: bool) -> str:
        """Fetch the default branch from GitHub and fast-forward the local one (its checkout
        files too); with ``rebase``, replay every open worktree onto it. A worktree that does
        not rebase cleanly (or holds uncommitted work) is left as it was and its ticket says so."""
        owner, repo = self._linked(project)
        _, token = await self.github.api()
        config = await self.github.app_config()
        repo_path = Path(project.path)
        branch = project.default_branch
        notes: list[str] = []
        async with self.repo_lock(project.path):
            timeout = float((await self.settings.current()).git_timeout_s)
            url = config.clone_url(owner, repo)
            try:
                tip = await with_deadline(
                    partial(remote.fetch_branch, repo_path, url, token, branch, timeout),
                    timeout,
                    "fetch",
                )
            except RemoteError as exc:
                return f"fetching {branch} failed: {exc}"
            if tip is None:
                return f"GitHub has no branch {branch}"
            moved: str
            try:
                moved = await asyncio.to_thread(remote.fast_forward, repo_path, branch, tip)
            except Conflict as exc:
                moved = "blocked"
                notes.append(f"local {branch} not updated: {exc.message}")
            notes.insert(0, f"local {branch} {moved.replace('_', ' ')} at {tip[:10]}")
            if not rebase or moved == "diverged":
                return "; ".join(notes)
            results = await self._rebase_worktrees(project)
        for ticket, outcome in results:
            await self._report_rebase(project, ticket, outcome, branch)
        rebased = sum(1 for _, o in results if o.kind == "rebased")
        left = [f"#{t.number}" for t, o in results if o.kind in ("conflict", "dirty")]
        notes.append(f"{rebased} worktree(s) rebased")
        if left:
            notes.append(f"left as they were: {', '.join(left)}")
        return "; ".join(notes)

    async def _rebase_worktrees(
        self, project: Project
    ) -> builtins.list[tuple[Ticket, remote.RebaseOutcome]]:
        results = []
        for ticket in await db_github.open_worktree_tickets(self.db.reader, project.id):
            if self.agent.is_busy(ticket.id):
                continue
            if await self.stacks.base_of(project, ticket) != project.default_branch:
                continue  # stacked on unmerged work: it follows that branch, not this one
            worktree = Path(ticket.worktree_path or "")
            if not (worktree.is_dir() and ticket.branch):
                continue
            outcome = await asyncio.to_thread(
                remote.rebase_worktree,
                Path(project.path),
                worktree,
                ticket.branch,
                project.default_branch,
            )
            results.append((ticket, outcome))
        return results

    async def _report_rebase(
        self, project: Project, ticket: Ticket, outcome: remote.RebaseOutcome, branch: str
    ) -> None:
        if outcome.kind == "conflict":
            files = ", ".join(outcome.paths) or "some files"
            text = (
                f"`{branch}` moved on GitHub and this ticket's branch no longer rebases cleanly"
                f" onto it (conflicts in {files}). The worktree was left as it was; resolve the"
                " conflicts or run the agent again."
            )
        elif outcome.kind == "dirty":
            text = (
                f"`{branch}` moved on GitHub; this ticket's worktree has uncommitted changes, so"
                " it was not rebased. Commit them and push the work again."
            )
        else:
            return
        await self.ticket_comments.create(project.slug, ticket.number, text, None, "agent")

    # --- check runs -------------------------------------------------------------------------

    async def post_check(
        self,
        pr: gh.PullRequest,
        name: str,
        conclusion: str | None,
        title: str,
        summary: str,
        client: GitHubClient | None = None,
        token: str | None = None,
    ) -> None:
        """Create one of Codality's check runs on the PR's head (``None``: in progress).
        A failure is logged, never raised: check runs are information, not the work."""
        try:
            if client is None or token is None:
                client, token = await self.github.api()
            body: dict[str, Any] = {
                "name": name,
                "head_sha": pr.head_sha,
                "output": {"title": title, "summary": summary},
            }
            if conclusion is None:
                body["status"] = "in_progress"
            else:
                body.update(status="completed", conclusion=conclusion)
            await client.post(f"/repos/{pr.owner}/{pr.repo}/check-runs", token, body)
        except (GitHubError, Conflict) as exc:
            log.warning("posting check run %s on PR #%d failed: %s", name, pr.number, exc)

    async def post_agent_check(
        self, pr: gh.PullRequest, client: GitHubClient | None = None, token: str | None = None
    ) -> None:
        """``codality/agent`` from the ticket's last agent session, then the readiness check."""
        sessions = await self.agent_sessions.for_owner(Owner.ticket(pr.ticket_id))
        last = sessions[0] if sessions else None
        agent_ok: bool | None = None
        if last is None:
            conclusion, title = "neutral", "No agent run"
        elif last.status is SessionStatus.RUNNING:
            conclusion, title = None, "Agent working"
        elif last.status is SessionStatus.COMPLETED:
            conclusion, title, agent_ok = "success", "Agent run completed", True
        else:
            conclusion, title, agent_ok = "failure", f"Agent run {last.status.value}", False
        summary = (last.summary or last.error or "") if last else "The work was pushed by hand."
        await self.post_check(
            pr, gh.AGENT_CHECK, conclusion, title, summary or title, client, token
        )
        await self.post_readiness(pr, agent_ok, client, token)

    async def post_readiness(
        self,
        pr: gh.PullRequest,
        agent_ok: bool | None,
        client: GitHubClient | None = None,
        token: str | None = None,
    ) -> None:
        async with self.db.transaction() as conn:
            runs = await db_github.check_runs(conn, pr.id, pr.head_sha)
        counts = gh.check_counts(runs)
        conclusion, title, summary = gh.readiness(agent_ok, pr.review_state, counts)
        await self.post_check(pr, gh.READINESS_CHECK, conclusion, title, summary, client, token)

    async def on_codality_review(self, ticket: Ticket, state: str, body: str) -> None:
        """A review submitted inside Codality: ``codality/review`` mirrors it on the PR."""
        pr = await self.find(ticket.id)
        if pr is None or pr.state is not gh.PrState.OPEN:
            return
        conclusion = {"approved": "success", "changes_requested": "failure"}.get(state, "neutral")
        title = f"Review: {state.replace('_', ' ')}"
        await self.post_check(pr, gh.REVIEW_CHECK, conclusion, title, body.strip() or title)
        sessions = await self.agent_sessions.for_owner(Owner.ticket(pr.ticket_id))
        agent_ok = None if not sessions else sessions[0].status is SessionStatus.COMPLETED
        await self.post_readiness(pr, agent_ok)

    # --- helpers ----------------------------------------------------------------------------

    def _announce(
        self, pr: gh.PullRequest, created: bool = False, check: gh.CheckRun | None = None
    ) -> None:
        """``pr:created`` / ``pr:updated`` on the ticket's and the project's channels."""
        payload = (
            PullRequestCreated(ticket_id=pr.ticket_id, pull_request=pr.shape())
            if created
            else PullRequestUpdated(
                ticket_id=pr.ticket_id,
                pull_request=pr.shape(),
                check=check.shape() if check is not None else None,
            )
        )
        self.github.publish(payload, pr.project_id, pr.ticket_id)

    async def _save(self, pr: gh.PullRequest, **fields: Any) -> gh.PullRequest:
        async with self.db.transaction() as conn:
            updated = await db_github.update_pr(conn, pr.id, now_iso(), **fields)
        if updated is None:
            raise NotFound(f"pull request #{pr.number} is no longer recorded")
        return updated

    async def _ticket_changed(self, project: Project, ticket_id: int) -> None:
        """Boards show the PR on the card: publish the ticket with its new summary."""
        ticket = await self.tickets.get_by_id(ticket_id)
        self.tickets.publish_updated(project, ticket)

    async def _keep_merge_diff(self, project: Project, ticket: Ticket, merged_sha: str) -> None:
        repo = Path(project.path)
        parent = await asyncio.to_thread(remote.first_parent, repo, merged_sha)
        if parent is None:
            return
        diff = await asyncio.to_thread(commit_diff, repo, parent, merged_sha)
        kept = MergeDiff(
            ticket.id,
            "pull_request",
            merged_sha,
            diff.patch,
            diff.stats(),
            now_iso(),
            diff.not_shown(),
        )
        async with self.db.transaction() as conn:
            await db_reviews.save_merge_diff(conn, kept)


def _pr_state(data: dict[str, Any]) -> gh.PrState:
    if data.get("merged") or data.get("merged_at"):
        return gh.PrState.MERGED
    return gh.PrState.CLOSED if data.get("state") == "closed" else gh.PrState.OPEN


def _comment(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "github_id": int(data["id"]),
        "kind": kind,
        "author": str((data.get("user") or {}).get("login") or ""),
        "body": str(data.get("body") or ""),
        "state": str(data["state"]).lower() if kind == "review" and data.get("state") else None,
        "path": data.get("path"),
        "line": data.get("line") or data.get("original_line"),
        "url": str(data.get("html_url") or ""),
        "created_at": str(data.get("submitted_at") or data.get("created_at") or now_iso()),
    }
