"""Server settings and environment values: every key, its type, its default, and the checks a change
must pass (product.md §9, codality-docs.md §5.3 and §11).

Pure: the service reads and writes storage, this module decides what is valid. A change is a partial
object; the fixed-shape objects (``prompts``, ``priorities``, ``kinds``) merge field by field, so an
admin can edit one prompt without resending the others, and in the open-ended ``prices`` table a
``null`` entry removes that model's price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.config import JsonDict

from .errors import InvalidInput

ReasoningEffort = Literal["low", "medium", "high"]
ModelId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]
Label = Annotated[str, Field(min_length=1, max_length=100)]
PromptText = Annotated[str, Field(max_length=50_000)]
Temperature = Annotated[float | None, Field(ge=0.0, le=2.0, allow_inf_nan=False)]
HiddenPath = Annotated[str, Field(min_length=2, max_length=4096, pattern=r"^(/|~/)[^\x00]*$")]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
PerMillion = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]

BASE_IDENTITY = """\
You are Codality, a software engineer working one ticket at a time in a git worktree of the \
project. You read the code before you change it, make the smallest change that fully solves the \
ticket, check your work by running it, and leave the branch in a state a reviewer can merge."""

APPROACH = """\
How to approach this:
1. Get your bearings first. Ask `memory` for the project overview, recent tickets and past agent \
sessions, then read the README and the build files (Makefile, pyproject.toml, package.json or \
similar) to learn how the project is built and tested.
2. Find the code that matters with `grep`, `list_directory` and `read_file`. Look at how nearby \
code solves similar problems and follow its style.
3. Make focused changes. Touch only what the ticket needs; leave unrelated code alone.
4. Verify. Build, run the relevant tests and linters, and add or update tests for what you \
changed. Never claim something works without having run it.
5. End with a summary that says what changed and why: the server commits your work with it."""

TOOL_AVAILABILITY = """\
Use the tools listed below, and only those. Paths are relative to the worktree root; nothing \
outside it is reachable."""

GIT_WORKFLOW = """\
Git rules:
- You are on the ticket's own branch in its own worktree. Stay on it: do not switch branches or \
touch the default branch.
- The git metadata is read-only to you: the server commits everything you leave in the worktree \
when your run ends. Review your work with `git status`, `git diff` and `git log`; `git add`, \
`git commit`, `git stash` and `git config` will fail, so do not try them.
- Never leave secrets, build output or editor files in the worktree; respect .gitignore.
- Before you finish, check `git status` and `git diff`: everything shown there will be committed."""

PRIORITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "urgent": {
        "label": "Urgent",
        "reasoning_effort": "low",
        "prompt": "This is urgent. Find the quickest correct fix: explore only as much as the fix "
        "needs, skip optional extras and clean-ups, and verify the fix itself before you stop.",
    },
    "high": {
        "label": "High",
        "reasoning_effort": "medium",
        "prompt": "This is high priority. Work efficiently but thoroughly: a clean solution with "
        "proper error handling and tests for the behaviour you change.",
    },
    "medium": {
        "label": "Medium",
        "reasoning_effort": "medium",
        "prompt": "Balance thoroughness and speed: understand the surrounding code, solve the "
        "ticket well, and test what you change.",
    },
    "low": {
        "label": "Low",
        "reasoning_effort": "high",
        "prompt": "There is no rush. Explore broadly, consider whether a refactoring would make "
        "the change cleaner, and leave thorough tests behind.",
    },
}

KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "bug": {
        "label": "Bug",
        "reasoning_effort": "high",
        "prompt": "This is a bug. Reproduce it first (ideally as a failing test), diagnose the "
        "root cause, fix it with the smallest correct change, then show the test passes and "
        "nothing else broke. Correctness comes before anything else.",
    },
    "feature": {
        "label": "Feature",
        "reasoning_effort": None,
        "prompt": "This is a feature. Design how it fits the existing code, plan the steps, "
        "implement them incrementally with tests, and document what a user needs to know.",
    },
    "task": {
        "label": "Task",
        "reasoning_effort": None,
        "prompt": "This is a task. Understand what is asked, plan it, implement it, test it, and "
        "end with a short summary of what you did.",
    },
    "chore": {
        "label": "Chore",
        "reasoning_effort": None,
        "prompt": "This is a chore. Assess the current state, plan the change, carry it out "
        "systematically, one concern at a time, and verify nothing regressed.",
    },
}

PRICE_DEFAULTS: dict[str, dict[str, float]] = {
    "claude-sonnet-4-6": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
    "claude-opus-4-6": {"input_per_mtok": 5.0, "output_per_mtok": 25.0},
    "claude-sonnet-4-5": {"input_per_mtok": 3.0, "output_per_mtok": 15.0},
    "claude-haiku-4-5": {"input_per_mtok": 1.0, "output_per_mtok": 5.0},
    "claude-opus-4-5": {"input_per_mtok": 5.0, "output_per_mtok": 25.0},
    "claude-opus-4-1": {"input_per_mtok": 15.0, "output_per_mtok": 75.0},
}


AuthorAssociation = Literal[
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
]

#: The associations of people with write access to a repository.
WRITE_ACCESS: tuple[AuthorAssociation, ...] = ("OWNER", "MEMBER", "COLLABORATOR")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Prompts(_Strict):
    base_identity: PromptText = BASE_IDENTITY
    approach: PromptText = APPROACH
    tool_availability: PromptText = TOOL_AVAILABILITY
    git_workflow: PromptText = GIT_WORKFLOW


class PriorityConfig(_Strict):
    label: Label
    reasoning_effort: ReasoningEffort
    prompt: PromptText
    temperature: Temperature = None


class KindConfig(_Strict):
    label: Label
    reasoning_effort: ReasoningEffort | None = None
    prompt: PromptText
    temperature: Temperature = None


def _default(config: type[_Strict], table: dict[str, dict[str, Any]], name: str) -> Any:
    return Field(default_factory=lambda: config(**table[name]))


def _priority(name: str) -> Any:
    return _default(PriorityConfig, PRIORITY_DEFAULTS, name)


def _kind(name: str) -> Any:
    return _default(KindConfig, KIND_DEFAULTS, name)


class Priorities(_Strict):
    urgent: PriorityConfig = _priority("urgent")
    high: PriorityConfig = _priority("high")
    medium: PriorityConfig = _priority("medium")
    low: PriorityConfig = _priority("low")


class Kinds(_Strict):
    bug: KindConfig = _kind("bug")
    feature: KindConfig = _kind("feature")
    task: KindConfig = _kind("task")
    chore: KindConfig = _kind("chore")


#: What writing to and reading from the 5-minute prompt cache costs, as a share of the input price
#: (Anthropic's published multipliers); a price without its own cache prices gets these.
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1

#: Every current Claude model takes 200k tokens; ``context_windows`` overrides per model.
DEFAULT_CONTEXT_WINDOW = 200_000
WindowTokens = Annotated[int, Field(ge=1_000, le=10_000_000)]


def _cache_prices_optional(schema: JsonDict) -> None:
    """The schema says what a change may leave out: the cache prices ``Price`` derives."""
    required = schema.get("required")
    if isinstance(required, list):
        schema["required"] = [n for n in required if not str(n).startswith("cache_")]


class Price(_Strict):
    """US dollars per million tokens: uncached input, output, cache writes and cache reads."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_cache_prices_optional
    )

    input_per_mtok: PerMillion
    output_per_mtok: PerMillion
    cache_write_per_mtok: PerMillion
    cache_read_per_mtok: PerMillion

    @model_validator(mode="before")
    @classmethod
    def _cache_prices(cls, data: Any) -> Any:
        """Cache prices left out follow the input price by Anthropic's multipliers."""
        if isinstance(data, dict) and isinstance(data.get("input_per_mtok"), int | float):
            base = float(data["input_per_mtok"])
            data = {
                "cache_write_per_mtok": round(base * CACHE_WRITE_FACTOR, 6),
                "cache_read_per_mtok": round(base * CACHE_READ_FACTOR, 6),
                **data,
            }
        return data


class Settings(_Strict):
    """Every setting with its type and default; the JSON schema of ``PUT /api/settings``."""

    model: ModelId = "claude-sonnet-4-6"
    fast_model: ModelId = "claude-haiku-4-5"
    temperature: Temperature = None
    max_tokens: Annotated[int, Field(ge=1, le=200_000)] = 16_000
    agent_timeout_s: Annotated[int, Field(ge=10, le=86_400)] = 600
    bash_timeout_s: Annotated[int, Field(ge=1, le=3_600)] = 60
    max_concurrent_agents: Annotated[int, Field(ge=1, le=32)] = 3
    sandbox: Literal["auto", "bubblewrap", "none"] = "auto"
    sandbox_network: bool = True
    sandbox_hidden_paths: Annotated[list[HiddenPath], Field(max_length=200)] = Field(
        default_factory=list
    )
    sandbox_host_ports: Annotated[list[Port], Field(max_length=50)] = Field(default_factory=list)
    merge_strategy: Literal["merge", "squash"] = "merge"
    push_after_merge: bool = True
    # Seconds a fetch or push may take, and any read from a remote may wait (a clone: 20x that).
    git_timeout_s: Annotated[int, Field(ge=1, le=3_600)] = 30
    #: A worktree file larger than this is left out of the agent's commits and diffs, unread.
    max_file_mb: Annotated[int, Field(ge=1, le=1_000)] = 10
    feedback_on_review: bool = True
    ci_max_retries: Annotated[int, Field(ge=0, le=20)] = 3
    #: Whose PR comments, reviews and ``/codality`` commands steer the agent, by GitHub's
    #: ``author_association``; anyone else's are logged as ignored. Widen with care: on a
    #: public repository ``NONE`` is anyone on GitHub.
    github_trusted_associations: list[AuthorAssociation] = Field(
        default_factory=lambda: list(WRITE_ACCESS)
    )
    prompts: Prompts = Field(default_factory=Prompts)
    priorities: Priorities = Field(default_factory=Priorities)
    kinds: Kinds = Field(default_factory=Kinds)
    prices: dict[ModelId, Price] = Field(
        default_factory=lambda: {m: Price(**p) for m, p in PRICE_DEFAULTS.items()}
    )
    #: Tokens each model takes (prompt and answer); a model not listed has
    #: ``DEFAULT_CONTEXT_WINDOW``. A history that would outgrow it is shortened, not refused.
    context_windows: dict[ModelId, WindowTokens] = Field(
        default_factory=lambda: dict.fromkeys(PRICE_DEFAULTS, DEFAULT_CONTEXT_WINDOW)
    )
    #: A run stops (``stopped``, ``budget: …``) at this many model calls, or before a call
    #: whose input (estimated before it is made) would take it past this much spent; the call
    #: that crosses it is the last, so it may pass the dollars by at most that one call's
    #: output (and the estimate's error). ``null``: no limit. ``ticket start --max-turns/
    #: --max-cost`` overrides them for one run.
    max_turns_per_run: Annotated[int | None, Field(ge=1, le=100_000)] = 200
    max_cost_per_run_usd: Annotated[float | None, Field(gt=0, le=100_000, allow_inf_nan=False)] = (
        20.0
    )
    #: A work queue pauses (``budget: $X for the queue``) once its runs have cost this much; an
    #: item's run stops when it would pass it. ``null``: no limit.
    max_cost_per_queue_usd: Annotated[
        float | None, Field(gt=0, le=1_000_000, allow_inf_nan=False)
    ] = None
    #: Likewise for the model calls (turns) of all its runs (``budget: N turns for the queue``).
    max_turns_per_queue: Annotated[int | None, Field(ge=1, le=10_000_000)] = None

    def context_window(self, model: str) -> int:
        return self.context_windows.get(model, DEFAULT_CONTEXT_WINDOW)


SETTING_KEYS: tuple[str, ...] = tuple(Settings.model_fields)


def defaults() -> dict[str, Any]:
    return Settings().model_dump(mode="json")


def _invalid(exc: ValidationError) -> InvalidInput:
    """The first problem as a 400 whose field is the dotted path to the offending value."""
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "[key]"]
    field = ".".join(loc) or "settings"
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message = "unknown setting" if len(loc) == 1 else "unknown field"
    return InvalidInput(f"{field}: {message}", field=field)


def effective(stored: dict[str, Any]) -> Settings:
    """Defaults overlaid with the stored values; stored keys this version no longer knows, or whose
    shape it no longer accepts, fall back to their defaults."""
    values = {key: value for key, value in stored.items() if key in SETTING_KEYS}
    for _ in range(len(values)):
        try:
            return Settings.model_validate(values)
        except ValidationError as exc:
            values.pop(str(exc.errors()[0]["loc"][0]), None)
    return Settings.model_validate(values)


def _merge(current: Any, change: Any) -> Any:
    if isinstance(current, dict) and isinstance(change, dict):
        return {
            **current,
            **{key: _merge(current.get(key), value) for key, value in change.items()},
        }
    return change


def apply_changes(current: dict[str, Any], changes: Any) -> dict[str, Any]:
    """The stored form of ``changes`` (a partial settings object) applied to ``current``: only the
    changed keys, each with its complete new value. Raises InvalidInput naming the bad key."""
    if not isinstance(changes, dict):
        raise InvalidInput("settings must be a JSON object", field="body")
    merged = {**current}
    for key, value in changes.items():
        if key not in SETTING_KEYS:
            raise InvalidInput(f"{key}: unknown setting", field=key)
        merged[key] = _merge(current.get(key), value)
    if isinstance(merged.get("prices"), dict):
        merged["prices"] = {m: p for m, p in merged["prices"].items() if p is not None}
    try:
        valid = Settings.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        raise _invalid(exc) from None
    return {key: valid[key] for key in changes}


# --- environment values ------------------------------------------------------------------------

ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
ENV_NAME_MAX = 128
ENV_VALUE_MAX = 64 * 1024
MASK = "••••"

#: The names the server itself reads, listed (set or not) in this order before any others.
KNOWN_ENV: tuple[str, ...] = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "APP_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_TLS",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "GITHUB_URL",
    "GITHUB_API_BASE_URL",
    "GITHUB_APP_ID",
    "GITHUB_APP_SLUG",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_INSTALLATION_ID",
    "GITHUB_INSTALLATION_ACCOUNT",
)
#: The names whose values are configuration, not credentials: shown in full (a URL's password
#: still masked). Every other value, known or not, is a secret: ``DATABASE_URL``, ``MY_PWD``…
PUBLIC_ENV = frozenset(
    {
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL",
        "ANTHROPIC_SMALL_FAST_MODEL",
        "APP_URL",
        "WORKTREE_BASE",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_TLS",
        "SMTP_FROM",
        "GITHUB_URL",
        "GITHUB_API_BASE_URL",
        "GITHUB_APP_ID",
        "GITHUB_CLIENT_ID",
    }
)


def is_secret(name: str) -> bool:
    """Whether a value is masked: all are, except the allow-listed ``PUBLIC_ENV`` names."""
    return name not in PUBLIC_ENV


def mask(value: str) -> str:
    """A fixed mask, with the last two characters of a long value to tell keys apart."""
    return f"{MASK}{value[-2:]}" if len(value) >= 16 else MASK


def _displayable(text: str) -> str:
    """``text`` as valid Unicode: a lone surrogate (bytes the process environment could not
    decode, or a value saved before bodies were checked) becomes ``?`` instead of breaking the
    whole listing."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _without_password(value: str) -> str:
    if "://" not in value or "@" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return MASK
    if not password:
        return value
    netloc = parts.netloc.replace(f":{password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def shown_value(name: str, value: str) -> str:
    """What the API shows of ``name``'s value: masked unless public, always valid Unicode."""
    return _displayable(mask(value) if is_secret(name) else _without_password(value))


EnvSource = Literal["store", "environment"]


def effective_env(
    stored: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, tuple[str, EnvSource]]:
    """Every value the server uses, with where it comes from: the store, else (for the names the
    server reads) the process environment, which an auto-started server inherits from the CLI."""
    values: dict[str, tuple[str, EnvSource]] = {n: (v, "store") for n, v in stored.items()}
    for name in KNOWN_ENV:
        if name not in values and environ.get(name):
            values[name] = (environ[name], "environment")
    return values


def env_listing(values: Mapping[str, tuple[str, EnvSource]]) -> list[dict[str, Any]]:
    """Every known name and every stored one as ``{name, set, secret, value, source}``, secrets
    masked; ``source`` is ``store``, ``environment`` or null when the name is not set."""
    names = [*KNOWN_ENV, *sorted(set(values) - set(KNOWN_ENV))]
    listing: list[dict[str, Any]] = []
    for name in names:
        value, source = values.get(name) or (None, None)
        secret = is_secret(name)
        shown = None if value is None else shown_value(name, value)
        listing.append(
            {
                "name": name,
                "set": value is not None,
                "secret": secret,
                "value": shown,
                "source": source,
            }
        )
    return listing


MISSING_KEY = "ANTHROPIC_API_KEY is not set; run `codality settings env-set ANTHROPIC_API_KEY`"


@dataclass(frozen=True)
class ModelAccess:
    """How to reach the model: the one place key and base URL are resolved for every feature."""

    api_key: str
    base_url: str | None

    @classmethod
    def from_env(cls, values: Mapping[str, str]) -> ModelAccess:
        """From the effective env values; a missing key is a 400 naming it."""
        key = (values.get("ANTHROPIC_API_KEY") or "").strip()
        if not key:
            raise InvalidInput(MISSING_KEY, field="ANTHROPIC_API_KEY")
        return cls(key, (values.get("ANTHROPIC_BASE_URL") or "").strip() or None)


def env_changes(changes: Any) -> dict[str, str | None]:
    """``{NAME: value | null}`` checked; an empty string unsets like ``null``."""
    if not isinstance(changes, dict):
        raise InvalidInput("env changes must be a JSON object of NAME: value", field="body")
    checked: dict[str, str | None] = {}
    for name, value in changes.items():
        if len(name) > ENV_NAME_MAX or not ENV_NAME.fullmatch(name):
            raise InvalidInput(
                f"{name}: env names are upper-case letters, digits and _, starting with a letter",
                field=name,
            )
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{name}: the value must be a string or null", field=name)
        if value is not None and (
            "\x00" in value or len(value) > ENV_VALUE_MAX or _displayable(value) != value
        ):
            raise InvalidInput(
                f"{name}: the value must be valid Unicode, with no NUL byte and at most"
                f" {ENV_VALUE_MAX} characters",
                field=name,
            )
        checked[name] = value or None
    return checked
