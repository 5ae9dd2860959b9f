"""Pseudo-relevance feedback: a second search round, seeded by the first round's best hits.

A question whose answer is spread over several memories ("What activities does Melanie
partake in?") finds one or two of them by its own words; those hits then say what the
others look like. The second round asks with the question plus what its best hits hold:
on the dense side the mean of their vectors (Rocchio), on the keyword side their words,
each weighed by the share of those hits that have it. Both queries keep the question's own
part whole, so what matched the question still matches.
"""

import math
from collections.abc import Sequence

from mnemo.retrieval.stores import SparseVector

# Measured and not kept (README, "LoCoMo retrieval"): fused with the first round, 3 seeds
# moved all@10 by +0.004 [-0.008, +0.016] for 4 ms more per search; in the first round's
# place it lost 0.02. Off; bench/locomo_heldin.py measures it again.
FEEDBACK_HITS = 0  # the first round's hits that seed the second (0: one round only)
DENSE_FEEDBACK = True
SPARSE_FEEDBACK = True
# What the hits' part weighs against the question's (Rocchio's beta over alpha).
FEEDBACK_WEIGHT = 1.0
# The second round's ranking is fused with the first's (fusion.fuse), not put in its
# place: alone it drifts toward what the seeds share.
FUSE = True


def unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def dense_feedback(
    query: Sequence[float], hits: Sequence[Sequence[float]], weight: float = FEEDBACK_WEIGHT
) -> list[float]:
    """The question's vector moved toward its hits' centroid (all at unit length)."""
    if not hits:
        return list(query)
    centroid = [sum(column) / len(hits) for column in zip(*(unit(h) for h in hits), strict=True)]
    return unit([q + weight * c for q, c in zip(unit(query), centroid, strict=True)])


def sparse_feedback(
    query: SparseVector, hits: Sequence[SparseVector], weight: float = FEEDBACK_WEIGHT
) -> SparseVector:
    """The question's words (as asked) and its hits' words, each of those weighed by the
    share of hits holding it; the engine's IDF still makes common words weigh little."""
    weights = dict(zip(query.indices, query.values, strict=True))
    for hit in hits:
        for term, value in zip(hit.indices, hit.values, strict=True):
            if value > 0:
                weights[term] = weights.get(term, 0.0) + weight / len(hits)
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[weights[i] for i in indices])
