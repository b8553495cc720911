"""Which queries a comparison helps and which it hurts, and what they have in common: each query's
gain against its length, its number of relevant documents and the subword fertility (word pieces
per word) of its relevant documents in the target language. Read as rank correlations with
bootstrap intervals over queries, and as the mean gain in each third of a feature's range."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from otclir.evaluation.stats import bootstrap, bootstrap_ci, percentile_interval

FEATURES = {"query_words": "query length (words)", "relevant": "relevant documents",
            "fertility": "pieces per word of the relevant documents"}
THIRDS = ("lowest third", "middle third", "highest third")


def query_features(task, tokenizer) -> pd.DataFrame:
    """Per query of a retrieval task: its length in words, its number of relevant documents, and the
    word pieces per word of those documents (``tokenizer``: the student's)."""
    rows = []
    for query, text in task.queries.items():
        relevant = [d for d, grade in task.qrels.get(query, {}).items() if grade > 0 and d in task.docs]
        words = [task.docs[d].split() for d in relevant if task.docs[d].split()]
        n_words = sum(len(w) for w in words)
        pieces = sum(map(len, tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"])) \
            if words else 0
        rows.append({"query": str(query), "query_words": len(text.split()), "relevant": len(relevant),
                     "fertility": pieces / n_words if n_words else np.nan})
    return pd.DataFrame(rows).set_index("query")


def _spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho of x and y over each row of resampled indices (ties get average ranks)."""
    rx = np.apply_along_axis(rankdata, 1, x[idx])
    ry = np.apply_along_axis(rankdata, 1, y[idx])
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    return (rx * ry).sum(1) / np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1)).clip(1e-300)


def gains_by_feature(gains: pd.Series, features: pd.DataFrame, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A row per feature: Spearman's rho between the per-query gain and the feature with its 95%
    bootstrap interval (queries resampled), and the mean gain in each third of the feature's
    range with its interval. Queries missing a feature are left out of that feature's row."""
    gains = gains.copy()
    gains.index = gains.index.astype(str)
    rows = []
    for name, label in FEATURES.items():
        joined = pd.concat([gains.rename("gain"), features[name]], axis=1, join="inner").dropna()
        if len(joined) < 6:
            continue
        x, y = joined[name].to_numpy(float), joined["gain"].to_numpy(float)
        rho = float(_spearman(x, y, np.arange(len(x))[None, :])[0])
        low, high = percentile_interval(bootstrap(lambda idx: _spearman(x, y, idx), len(x), n_resamples, seed, block=200))
        row = {"feature": label, "queries": len(x), "rho": rho, "rho_low": low, "rho_high": high}
        thirds = pd.qcut(rankdata(x, method="ordinal"), 3, labels=THIRDS)
        for third in THIRDS:
            part = y[np.asarray(thirds == third)]
            ci = bootstrap_ci(part, n_resamples=n_resamples, seed=seed)
            row[third] = f"{part.mean():+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]"
            row[f"{third} range"] = f"{x[np.asarray(thirds == third)].min():.3g}–{x[np.asarray(thirds == third)].max():.3g}"
        rows.append(row)
    return pd.DataFrame(rows)
