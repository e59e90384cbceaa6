"""Running the real `opsdesk` CLI in a child process with a config file of the test's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
TOKENS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-SlackBotSecretValue",
    "SLACK_APP_TOKEN": "xapp-1-A0-SlackAppSecretValue",
    "SLACK_SIGNING_SECRET": "slacksigningsecret0123456789",
    "TELEGRAM_BOT_TOKEN": "123456:TelegramTokenSecretValueAbC",
    "OPSDESK_LLM_API_KEY": "sk-LlmKeySecretValue0123456789abcdef",
}


def opsdesk(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "OPSDESK_CONFIG": str(config), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True, text=True, cwd=ROOT, env=environ, timeout=timeout,
    )  # fmt: skip
