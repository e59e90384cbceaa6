"""Presses on one message take turns, each from the last content set; what is
remembered is bounded."""

from __future__ import annotations

import asyncio

from bot.message_turns import MessageTurns


async def test_presses_on_one_message_take_turns_from_the_latest_content() -> None:
    turns: MessageTurns[str, list[str]] = MessageTurns()
    seen: list[list[str]] = []
    second_arrived = asyncio.Event()

    async def press(mark: str) -> None:
        async with turns.turn("m1"):
            current = turns.latest("m1") or []
            seen.append(current)
            if mark == "a":
                await second_arrived.wait()  # held while the second press asks for the turn
            turns.updated("m1", [*current, mark])

    async def second_press() -> None:
        second_arrived.set()
        await press("b")

    await asyncio.gather(press("a"), second_press())
    assert seen == [[], ["a"]]
    assert turns.latest("m1") == ["a", "b"]
    assert turns._turns == {}  # no turn is kept once nobody holds it


def test_only_the_most_recently_updated_messages_are_remembered() -> None:
    turns: MessageTurns[int, str] = MessageTurns(remembered=3)
    for n in range(10):
        turns.updated(n, f"content {n}")
    assert [n for n in range(10) if turns.latest(n) is not None] == [7, 8, 9]
