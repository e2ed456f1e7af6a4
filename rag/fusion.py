"""Pure ranking helpers: reciprocal-rank fusion and interleaving of per-part result lists."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Fuse ranked lists: score(d) = sum over lists of weight / (k + rank of d), ranks starting at 1.

    k = 60 is the constant of Cormack, Clarke and Büttcher (2009): large enough that agreement between
    rankers outweighs one ranker's first place, small enough that the top ranks still count most.
    weights (default all 1) let a weaker ranker vote with less. Ties keep the order in which items
    were first seen.
    """
    if k < 0:
        raise ValueError("RRF constant k must be non-negative")
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, key in enumerate(dict.fromkeys(ranking), start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def interleave(lists: Sequence[Sequence[T]], limit: int) -> list[T]:
    """Round-robin over several ranked lists without duplicates, so every part of a question gets room."""
    out: list[T] = []
    seen: set[T] = set()
    for depth in range(max((len(l) for l in lists), default=0)):
        for ranked in lists:
            if depth < len(ranked) and ranked[depth] not in seen:
                seen.add(ranked[depth])
                out.append(ranked[depth])
                if len(out) >= limit:
                    return out
    return out
