"""opsdesk's process layer. The version is kept here, once: the package metadata
reads it (pyproject.toml: `dynamic = ["version"]`), `opsdesk --version` and the start
line of `opsdesk run` print it without scanning the installed distributions, which
would stay in every `opsdesk run`'s memory (docs/performance.md)."""

__version__ = "0.1.0"
