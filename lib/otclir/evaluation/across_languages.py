"""Is an objective's gain larger where the language is less resourced? The language sweep's gains
(:mod:`otclir.experiments.language_sweep`) set against continuous measures of what the language is
to the student — its pretraining text (CC-100, the corpus XLM-R and the MiniLM it was distilled into
were trained on; ``data/pretraining_data.csv``) and how its text falls into word pieces — with a
rank correlation over languages, its permutation p-value, a bootstrap interval over languages and the
smallest correlation the test could detect, beside the mean gain per hand-set tier.

"Robust for low-resource" predicts a gain that falls as pretraining text grows (a negative rank
correlation with its size) and rises with fragmentation (a positive one with pieces per word)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from otclir.errors import OtclirError
from otclir.evaluation.language_gains import language_gains
from otclir.paths import data_dir

# covariate -> how tables and figures name it; each is a column of :func:`gains_table`
COVARIATES = {"cc100_gib": "CC-100 text (GiB)", "pieces_per_word": "word pieces per word",
              "pieces_per_english_piece": "word pieces per English piece"}
PREDICTED_SIGN = {"cc100_gib": -1, "pieces_per_word": 1, "pieces_per_english_piece": 1}


@lru_cache(maxsize=None)
def pretraining_sizes() -> pd.DataFrame:
    """CC-100's size per language (Conneau et al. 2020, Table 6: millions of tokens and GiB); 0 for a
    language the corpus lacks (Chichewa)."""
    table = pd.read_csv(data_dir() / "pretraining_data.csv", dtype={"code": str})
    return table.set_index("code")


def gains_table(sweep: dict, measure: str = "AP") -> pd.DataFrame:
    """A row per language and trained system: the gain over the zero-shot student (mean over
    training seeds, t interval where there are several), the zero-shot student's measure and share
    of the ceiling, how many seeds dev selection kept untrained, the tier and the covariates."""
    from otclir.data.languages import language

    settings = sweep["sweep"]
    gains = language_gains(sweep["results"], measure=measure, scorer=settings.scorer, task=settings.task,
                           budget=str(settings.budget)).drop(columns="fertility")
    sizes = pretraining_sizes()
    missing = sorted(set(gains.language) - set(sizes.index))
    if missing:
        raise OtclirError(f"data/pretraining_data.csv has no size for {', '.join(missing)}; add a row per language "
                          "(0 where CC-100 lacks it)")
    gains.insert(1, "tier", gains.language.map(lambda code: language(code).tier))
    gains["cc100_gib"] = gains.language.map(sizes.cc100_gib)
    return gains.merge(sweep["languages"][["language", "pieces_per_word", "pieces_per_english_piece"]],
                       on="language", how="left")


def contrast(gains: pd.DataFrame, treatment: str, baseline: str) -> pd.DataFrame:
    """Per language, the treatment's gain minus the baseline's (the part of a gain one term adds),
    as rows of system ``<treatment> − <baseline>`` with the covariates kept."""
    keep = ["language", "tier", "seeds", *COVARIATES]
    left = gains[gains.system == treatment].set_index("language")
    right = gains[gains.system == baseline].set_index("language")
    if left.empty or right.empty:
        raise OtclirError(f"no gains of {treatment if left.empty else baseline}; systems: {sorted(gains.system.unique())}")
    both = left.index.intersection(right.index)
    out = left.loc[both, [c for c in keep if c != "language"]].copy()
    out["gain"] = left.loc[both, "gain"] - right.loc[both, "gain"]
    out["system"] = f"{treatment} − {baseline}"
    return out.reset_index()


def _rank_rho(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _row_rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``a`` with the same row of ``b`` (NaN where a row is constant)."""
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    scale = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, (a * b).sum(axis=1) / scale, np.nan)


def detectable_rho(n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest |rank correlation| a two-sided test at ``alpha`` over ``n`` languages detects
    with ``power`` (Fisher's z, with the 1.06 variance factor of Spearman's rho; Fieller et al. 1957)."""
    if n < 5:
        return float("nan")
    z = (norm.ppf(1 - alpha / 2) + norm.ppf(power)) * np.sqrt(1.06 / (n - 3))
    return float(np.tanh(z))


def rank_correlations(gains: pd.DataFrame, covariates=tuple(COVARIATES), n_permutations: int = 10000,
                      n_resamples: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Per system and covariate: the languages with a value, Spearman's rho between the covariate
    and the gain, its two-sided permutation p-value, a percentile bootstrap interval over languages,
    the sign "robust for low-resource" predicts and the smallest |rho| the test detects (80% power)."""
    rng = np.random.default_rng(seed)
    rows = []
    for system, part in gains.groupby("system", sort=False):
        for covariate in covariates:
            data = part[["gain", covariate]].dropna()
            x, y = data[covariate].to_numpy(float), data["gain"].to_numpy(float)
            n = len(data)
            rho = _rank_rho(x, y) if n >= 3 else float("nan")
            if np.isnan(rho):
                p, low, high = float("nan"), float("nan"), float("nan")
            else:
                rx, ry = rankdata(x), rankdata(y)
                rx, ry = (rx - rx.mean()) / rx.std(), (ry - ry.mean()) / ry.std()
                shuffled = rng.permuted(np.tile(ry, (n_permutations, 1)), axis=1)
                null = shuffled @ rx / n
                p = float((np.sum(np.abs(null) >= abs(rho) - 1e-12) + 1) / (n_permutations + 1))
                picks = rng.integers(0, n, size=(n_resamples, n))
                boot = _row_rho(rankdata(x[picks], axis=1), rankdata(y[picks], axis=1))
                low, high = np.nanpercentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
            rows.append({"system": system, "covariate": covariate, "languages": n, "rho": rho, "rho_low": float(low),
                         "rho_high": float(high), "p": p, "predicted_sign": PREDICTED_SIGN.get(covariate, 0),
                         "detectable_rho": detectable_rho(n, alpha)})
    return pd.DataFrame(rows)


def tier_means(gains: pd.DataFrame) -> pd.DataFrame:
    """Mean gain per hand-set tier and system, with the number of languages (rows: systems)."""
    from otclir.data.languages import TIERS

    means = gains.pivot_table(index="system", columns="tier", values="gain", aggfunc="mean", sort=False)
    counts = gains.groupby("tier").language.nunique()
    means = means[[t for t in TIERS if t in means.columns]]
    means.columns = [f"{t} ({counts[t]} languages)" for t in means.columns]
    return means


def correlation_lines(correlations: pd.DataFrame, names=None, alpha: float = 0.05) -> list[str]:
    """A sentence per system and covariate: the correlation, whether its sign is the one "robust for
    low-resource" predicts, and for a correlation the test does not find, what it could have found."""
    names = names or {}
    lines = []
    for row in correlations.itertuples():
        if np.isnan(row.rho):
            lines.append(f"{names.get(row.system, row.system)} against {COVARIATES.get(row.covariate, row.covariate)}: "
                         f"no correlation defined (a constant gain over {row.languages} languages).")
            continue
        p = "p < 0.001" if row.p < 0.001 else f"p {row.p:.3f}"
        head = (f"{names.get(row.system, row.system)} against {COVARIATES.get(row.covariate, row.covariate)}: "
                f"rho {row.rho:+.2f} [{row.rho_low:+.2f}, {row.rho_high:+.2f}] over {row.languages} languages, {p}")
        direction = ("the direction robustness for low-resource languages predicts"
                     if np.sign(row.rho) == row.predicted_sign else "against the direction robustness for "
                     "low-resource languages predicts")
        if row.p < alpha:
            lines.append(f"{head}: a correlation {'in ' if direction.startswith('the') else ''}{direction}.")
        else:
            lines.append(f"{head}: no correlation shown (the estimate's sign is {direction}); the test detects "
                         f"|rho| ≥ {row.detectable_rho:.2f} with 80% power.")
    return lines


def sources_line(sources: pd.DataFrame) -> str:
    """Where each language's numbers come from: the commits that trained the sweep's languages (with
    their training time) and the run of notebook 03 whose headline students it read."""
    parts = []
    sources = sources.reindex(columns=[*sources.columns.difference(["commit", "seconds"]), "commit", "seconds"])
    for (origin, commit), rows in sources.groupby(["from", "commit"], sort=False, dropna=False):
        commit = str(commit) if isinstance(commit, str) else "unknown"
        languages = ", ".join(sorted(rows.language))
        if origin == "sweep":
            took = f"; {rows.seconds.sum() / 60:.0f} min" if rows.seconds.notna().any() else ""
            parts.append(f"{len(rows)} trained at commit {commit[:7]} ({languages}{took})")
        else:
            parts.append(f"{len(rows)} read from notebook 03's {origin} run at commit {commit[:7]} ({languages})")
    return "Languages: " + "; ".join(parts) + "."


def analyse(sweep: dict, measure: str = "AP", n_permutations: int = 10000, n_resamples: int = 2000, seed: int = 0,
            alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's gains (with the OT student's gain minus sentence MSE's where both were trained),
    languages in tier order, and their rank correlations with every covariate."""
    from otclir.data.languages import TIERS

    gains = gains_table(sweep, measure)
    systems = list(dict.fromkeys(gains.system))
    ot = next((s for s in systems if s.startswith("distill-ot@")), None)
    mse = next((s for s in systems if s.startswith("distill-sentence_mse@")), None)
    if ot and mse:
        gains = pd.concat([gains, contrast(gains, ot, mse)], ignore_index=True)
    order = gains.tier.map(TIERS.index) * 1000 + gains.language.rank(method="dense")
    gains = gains.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return gains, rank_correlations(gains, n_permutations=n_permutations, n_resamples=n_resamples, seed=seed, alpha=alpha)

