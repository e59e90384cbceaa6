"""Usage figures: what one repository's reviews by one model spent and saved, and the
sums of those lines by repository, by model and in all. Pure: queries.py reads the
lines, prices turn tokens into money."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

LINTERS = "linters"  # how a review without a model (a lint review) is listed


class Price(Protocol):
    @property
    def input_per_million(self) -> float: ...

    @property
    def output_per_million(self) -> float: ...


@dataclass(frozen=True)
class Tally:
    """Tokens the model was sent and answered with, runs that called it, reviews made,
    cache hits and the tokens those hits did not spend (what the replayed review cost)."""

    tokens_in: int = 0
    tokens_out: int = 0
    calls: int = 0
    reviews: int = 0
    cache_hits: int = 0
    saved_in: int = 0
    saved_out: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Tally)))

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def saved(self) -> int:
        return self.saved_in + self.saved_out


@dataclass(frozen=True)
class UsageLine:
    """One repository and one model (LINTERS for reviews made without one)."""

    repo: str
    model: str
    tally: Tally


def total(tallies: Iterable[Tally]) -> Tally:
    summed = Tally()
    for tally in tallies:
        summed = summed + tally
    return summed


def grouped(lines: Iterable[UsageLine], key: Callable[[UsageLine], str]) -> dict[str, Tally]:
    """Tallies summed by `key` (repo or model), in name order."""
    sums: dict[str, Tally] = {}
    for line in lines:
        sums[key(line)] = sums.get(key(line), Tally()) + line.tally
    return dict(sorted(sums.items()))


@dataclass(frozen=True)
class Money:
    """What tokens cost at the configured prices; `unpriced` names models that spent
    tokens without a price (their tokens are not in `spent`)."""

    spent: float
    saved: float
    unpriced: tuple[str, ...] = ()


def money(lines: Iterable[UsageLine], prices: Mapping[str, Price]) -> Money | None:
    """None when no price is configured: usage is then shown in tokens only."""
    if not prices:
        return None
    spent = saved = 0.0
    unpriced: set[str] = set()
    for line in lines:
        price = prices.get(line.model)
        if price is None:
            if line.tally.tokens and line.model != LINTERS:
                unpriced.add(line.model)
            continue
        spent += cost(price, line.tally.tokens_in, line.tally.tokens_out)
        saved += cost(price, line.tally.saved_in, line.tally.saved_out)
    return Money(round(spent, 6), round(saved, 6), tuple(sorted(unpriced)))


def cost(price: Price, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / 1e6


def tally_json(tally: Tally) -> dict[str, Any]:
    return asdict(tally)
