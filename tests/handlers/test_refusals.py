"""One refusal per chat per hour, in memory, with a bounded memory."""

from __future__ import annotations

from handlers import refusals
from handlers.refusals import RefusalLimiter


def test_one_refusal_per_chat_per_hour() -> None:
    now = [0.0]
    limiter = RefusalLimiter(clock=lambda: now[0])
    assert limiter.should_refuse("telegram:1")
    assert not limiter.should_refuse("telegram:1")
    assert limiter.should_refuse("telegram:2"), "another chat is refused on its own"
    now[0] = 3599.0
    assert not limiter.should_refuse("telegram:1")
    now[0] = 3601.0
    assert limiter.should_refuse("telegram:1")


def test_a_flood_of_strangers_does_not_grow_memory_without_bound(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(refusals, "MAX_CHATS", 100)
    limiter = RefusalLimiter()
    for n in range(1000):
        limiter.should_refuse(f"chat:{n}")
    assert len(limiter._last) == 100
