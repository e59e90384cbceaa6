"""Slack payloads into the pipeline's Arrival: the redelivery header and mentions."""

from __future__ import annotations

import pytest

from bot.slack.events import mention_line, retried


@pytest.mark.parametrize(
    ("headers", "is_retry"),
    [
        ({}, False),
        ({"x-slack-retry-num": ["0"]}, False),  # bolt's Socket Mode: a first delivery
        ({"x-slack-retry-num": "0"}, False),
        ({"x-slack-retry-num": ["1"]}, True),
        ({"x-slack-retry-num": ["12"]}, True),
        ({"x-slack-retry-num": ["soon"]}, False),
        ({"x-slack-retry-num": []}, False),
    ],
)
def test_only_a_retry_number_of_one_or_more_is_a_redelivery(
    headers: dict[str, list[str] | str], is_retry: bool
) -> None:
    assert retried(headers) is is_retry


def test_a_mention_becomes_the_command_after_it() -> None:
    assert mention_line("<@UBOT> review api") == "/review api"
    assert mention_line("<@UBOT|opsdesk>   /jobs") == "/jobs"
    assert mention_line("<@UBOT>") == "/help"
