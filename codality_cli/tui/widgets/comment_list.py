"""A ticket's comments, oldest first, each as author, time and markdown body."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.containers import Vertical
from textual.widgets import Markdown, Static


def author_of(comment: Mapping[str, Any]) -> str:
    if comment.get("author_kind") == "agent":
        return "agent"
    author = comment.get("author") or {}
    return str(author.get("name") or author.get("email") or "someone")


class CommentList(Vertical):
    DEFAULT_CSS = """
    CommentList { height: auto; }
    CommentList .comment-author { text-style: bold; margin-top: 1; }
    CommentList Markdown { margin: 0; padding: 0 0 0 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.seen: set[int] = set()

    def show(self, comments: Sequence[Mapping[str, Any]]) -> None:
        self.seen.clear()
        self.remove_children()
        for comment in comments:
            self.add(comment)

    def add(self, comment: Mapping[str, Any]) -> None:
        """Append one comment, once (a live ``comment:created`` may repeat a loaded one)."""
        comment_id = int(comment.get("id", 0))
        if comment_id in self.seen:
            return
        self.seen.add(comment_id)
        when = str(comment.get("created_at", ""))[:16].replace("T", " ")
        self.mount(
            Static(f"{author_of(comment)} · {when}", classes="comment-author", markup=False),
            Markdown(str(comment.get("body", ""))),
        )
