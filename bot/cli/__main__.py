"""`python -m bot.cli`: the same as the `opsdesk` console script."""

from bot.cli import entry

entry()
