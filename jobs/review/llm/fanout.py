"""The pieces of one review, reviewed by up to `parallel` calls at once, and put back
in the order one call at a time would have taken them.

A piece may come back cut in smaller ones (its prompt did not fit, its answer was
cut short): they take its place, keyed under it — piece 3's halves are (3, 0) and
(3, 1) — so sorting by key gives exactly the depth-first order of a sequential
review, whatever order the answers arrived in. Pieces start in key order too, so
with `parallel = 1` this *is* the sequential review.

Once a piece has failed no new one starts (a server that stopped answering would
cost a deadline for each); the calls already in flight finish, and what never
started is handed back.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P")  # a piece
R = TypeVar("R")  # what reviewing it gave
Key = tuple[int, ...]


@dataclass
class Outcome(Generic[P, R]):
    done: list[tuple[Key, P, R]] = field(default_factory=list)  # in key order
    left: list[P] = field(default_factory=list)  # never started (after a failure), in order


def fan_out(
    pieces: Sequence[P],
    review: Callable[[P], R],
    smaller: Callable[[R], Sequence[P] | None],
    failed: Callable[[R], bool],
    parallel: int,
) -> Outcome[P, R]:
    """Every piece through `review`, at most `parallel` at once."""
    waiting: dict[Key, P] = {(n,): piece for n, piece in enumerate(pieces)}
    order = list(waiting)
    heapq.heapify(order)
    outcome: Outcome[P, R] = Outcome()
    stopped = False
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="opsdesk-model") as pool:
        running: dict[Future[R], tuple[Key, P]] = {}
        while True:
            while order and len(running) < parallel and not stopped:
                key = heapq.heappop(order)
                piece = waiting.pop(key)
                running[pool.submit(review, piece)] = (key, piece)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key, piece = running.pop(future)
                result = future.result()  # a bug, not a model's failure: it propagates
                outcome.done.append((key, piece, result))
                stopped = stopped or failed(result)
                for n, part in enumerate(smaller(result) or ()):
                    waiting[(*key, n)] = part
                    heapq.heappush(order, (*key, n))
    outcome.done.sort(key=lambda done: done[0])
    outcome.left = [waiting[key] for key in sorted(order)]
    return outcome
