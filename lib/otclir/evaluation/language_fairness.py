"""Language fairness of one query's ranking of a parallel multilingual pool, where users look.

In a parallel pool every relevant verse has one copy per language, so a fair ranking puts the
copies of a verse near each other and gives each language its share of the top. Four per-query
measures, each from the ranks of the relevant copies and the languages at the top of the ranking:

- :func:`rank_distance`: Elmahdy et al.'s (2024) distance between the best- and the worst-ranked
  copy of a relevant verse, averaged over the query's relevant verses; with ``cutoff`` every rank
  below it counts as ``cutoff + 1``, so a copy that fell from rank 5,000 to 8,000 no longer counts,
  only whether the copies sit apart at the top. 0 is fair.
- :func:`top_shares` and :func:`share_skew`: the share of the top ``k`` slots each language takes,
  and how far those shares are from each language's share of the relevant copies (equal in a
  parallel pool): half the summed absolute difference, 0 when every language gets its share, 1 -
  1/L when one language takes every slot.
- :func:`peer`: PEER, the Probability of Equal Expected Rank (Yang et al., SIGIR 2024): the p-value
  of a Kruskal-Wallis statistic over the ranks, within the cutoff, of the relevant documents grouped
  by language. 1 is fair (no evidence that one language's relevant documents rank lower).

PEER follows the ``peer_measure`` package (0.0.1) in its statistic (computed on the rank values,
chi-square reference, no tie correction) and its edge cases. Relevant documents below the cutoff
share one rank; the paper places them after the cutoff, ``(2 * cutoff + unretrieved + 1) / 2``
(``tail="after_cutoff"``, the default), while the package's code gives them
``(2 * n + unretrieved + 1) / 2`` with ``n`` the number of relevant documents, which can rank
them above retrieved ones (``tail="package"`` reproduces it; a test checks both against it).
"""
from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats

from otclir import checks
from otclir.errors import OtclirError

TAILS = ("after_cutoff", "package")


def _ranks(ranks) -> np.ndarray:
    checks.array(ranks, "ranks", finite=False)
    ranks = np.asarray(ranks, dtype=float)
    if ranks.ndim != 2 or ranks.shape[0] == 0 or ranks.shape[1] < 2:
        raise OtclirError(f"ranks must be a table of relevant verses x languages (at least one verse, two "
                          f"languages), got shape {ranks.shape}")
    if np.isnan(ranks).any() or (ranks < 1).any():
        raise OtclirError("ranks are 1-based positions in the ranking; found a rank below 1 or an empty one")
    return ranks


def _cutoff(cutoff) -> int:
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, np.integer)) or cutoff < 1:
        raise OtclirError(f"cutoff must be a whole number of at least 1, got {cutoff!r}")
    return int(cutoff)


def rank_distance(ranks, cutoff: int | None = None) -> float:
    """Mean over relevant verses (rows) of the worst minus the best rank of their copies (columns,
    one per language); with ``cutoff``, ranks below it count as ``cutoff + 1``.

    >>> rank_distance([[1, 4], [2, 900]])
    450.5
    >>> rank_distance([[1, 4], [2, 900]], cutoff=10)
    6.0
    """
    ranks = _ranks(ranks)
    if cutoff is not None:
        ranks = np.minimum(ranks, _cutoff(cutoff) + 1)
    return float(np.mean(ranks.max(1) - ranks.min(1)))


def top_shares(top_languages, n_languages: int) -> np.ndarray:
    """The share of the top slots each language takes: ``top_languages`` holds the language index
    (0 to ``n_languages`` - 1) of each document at the top of the ranking, best first.

    >>> top_shares([0, 0, 1, 0], 3).tolist()
    [0.75, 0.25, 0.0]
    """
    top = np.asarray(top_languages)
    if isinstance(n_languages, bool) or not isinstance(n_languages, (int, np.integer)) or n_languages < 2:
        raise OtclirError(f"n_languages must be a whole number of at least 2, got {n_languages!r}")
    if top.ndim != 1 or len(top) == 0 or not np.issubdtype(top.dtype, np.integer) or \
            top.min() < 0 or top.max() >= n_languages:
        raise OtclirError(f"top_languages must be a non-empty list of language indices 0 to {n_languages - 1}")
    return np.bincount(top, minlength=n_languages) / len(top)


def share_skew(shares) -> float:
    """Half the summed absolute difference between each language's share of the top and its share
    of the relevant copies (1/L each in a parallel pool): 0 fair, 1 - 1/L one language everywhere.

    >>> round(share_skew([0.75, 0.25, 0.0]), 4)
    0.4167
    """
    checks.array(shares, "shares", finite=False)
    shares = np.asarray(shares, dtype=float)
    if shares.ndim != 1 or len(shares) < 2 or not np.isclose(shares.sum(), 1.0):
        raise OtclirError("shares must be one share per language (at least two) that sum to 1")
    return float(0.5 * np.abs(shares - 1 / len(shares)).sum())


def peer(ranks_by_language, cutoff: int, tail: str = "after_cutoff") -> float:
    """PEER at ``cutoff`` for one query and one relevance grade: ``ranks_by_language`` holds, per
    language, the 1-based ranks of that language's relevant documents (any rank; those below the
    cutoff are unretrieved). Returns the Kruskal-Wallis p-value (1 where fewer than two languages
    have relevant documents or none is retrieved).

    >>> round(peer([[1, 2], [3, 4]], cutoff=10), 4)
    0.1213
    >>> peer([[1, 3], [2, 4]], cutoff=10) > peer([[1, 2], [3, 4]], cutoff=10)
    True
    """
    cutoff = _cutoff(cutoff)
    if tail not in TAILS:
        raise OtclirError(f"tail must be one of {', '.join(TAILS)}, got {tail!r}")
    checks.groups(ranks_by_language, "ranks_by_language")
    groups = [np.asarray(g, dtype=float).ravel() for g in ranks_by_language]
    if any(np.isnan(g).any() or (g < 1).any() for g in groups):
        raise OtclirError("ranks are 1-based positions in the ranking; found a rank below 1 or an empty one")
    retrieved = [g[g <= cutoff] for g in groups]
    unretrieved = [int((g > cutoff).sum()) for g in groups]
    if not any(len(r) for r in retrieved):
        return 1.0
    n_unretrieved = sum(unretrieved)
    first = cutoff if tail == "after_cutoff" else sum(len(g) for g in groups)
    tail_rank = (2 * first + n_unretrieved + 1) / 2
    samples = [np.concatenate([r, np.full(u, tail_rank)]) for r, u in zip(retrieved, unretrieved)]
    samples = [s for s in samples if len(s)]
    if len(samples) < 2:
        return 1.0
    values = np.concatenate(samples)
    n = np.array([len(s) for s in samples], dtype=float)
    mean = values.mean()
    between = float(np.square(np.array([s.mean() for s in samples]) - mean) @ n)
    total = float(np.square(values - mean).sum())
    if total == 0:
        return 1.0
    h = (n.sum() - 1) * between / total
    return float(scipy_stats.chi2.sf(h, len(samples) - 1))
