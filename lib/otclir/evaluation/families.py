"""Families of comparisons declared before the run, tested with the training seeds inside.

A :class:`FamilyPlan` (a profile's section names it) says which systems are compared with which,
on which measures and scorers, which keys make one multiple-testing family (``scope``), the test,
the correction and the level. Its one data-dependent member, ``rival`` (the strongest student
without the transport term at the OT student's budget), is chosen on the dev split by the
declared dev signal (``rival_by``), from the dev values dev selection recorded, never from a test
number; the choice is returned with the dev numbers that made it.

Each comparison reports the difference of means over seeds and queries with a two-level
bootstrap interval and p-value (:func:`otclir.evaluation.seed_bootstrap.two_level_bootstrap`), each seed's
own difference and how many agree in sign, and the smallest difference it could have detected at
80% power at the family's corrected level (:mod:`otclir.evaluation.power`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from otclir.evaluation.power import family_level, minimum_detectable_effect
from otclir.evaluation.seed_bootstrap import two_level_bootstrap
from otclir.evaluation.stats import CORRECTIONS, correct
from otclir.retrieval.dense import DEV_SIGNALS
from otclir.retrieval.system_names import BASELINE_SCORER, SCORERS, ZERO_SHOT, parse
from otclir.settings import Settings, choice, each, number, setting, text, whole

RIVAL = "rival"
SCOPE_KEYS = ("task", "language", "scorer", "measure")


@dataclass
class FamilyPlan(Settings):
    WHAT = "family setting"

    baselines: list[str] = setting(factory=lambda: [ZERO_SHOT, RIVAL], check=each(text(), distinct=True))
    rival_by: str = setting("dev_bitext_MRR", check=choice(DEV_SIGNALS, "dev signals"))
    scope: list[str] = setting(factory=lambda: list(SCOPE_KEYS), check=each(choice(SCOPE_KEYS, "scope keys"), distinct=True))
    measures: list[str] = setting(factory=lambda: ["AP", "nDCG@10"], check=each(text(), distinct=True))
    scorers: list[str] = setting(factory=lambda: list(SCORERS), check=each(choice(SCORERS, "scorers"), distinct=True))
    correction: str = setting("holm", check=choice(CORRECTIONS, "corrections"))
    alpha: float = setting(0.05, check=number(above=0, below=1, says="a significance level in (0, 1)"))
    n_resamples: int = setting(2_000, check=whole(200))
    seed: int = setting(0, check=whole(0))

    def __post_init__(self):
        super().__post_init__()
        from otclir.retrieval.measures import parse_measures

        parse_measures(self.measures)


def rivals(results: pd.DataFrame, language: str, signal: str) -> dict[str, dict]:
    """Per budget tag, the student without the transport term with the best dev ``signal`` (mean
    over its training seeds, as dev selection recorded it), with every candidate's dev value."""
    column = f"selected_{signal}"
    part = results[(results.language == language)]
    if "task" in part:
        part = part[part.task == part.task.iloc[0]]  # dev values do not depend on the test task
    students = part[part.system.map(lambda c: parse(c).distilled and not parse(c).transports)]
    if column not in students:
        raise KeyError(column)
    out = {}
    for budget, group in students.groupby(students.system.map(lambda c: parse(c).budget)):
        values = group.groupby("system")[column].mean()
        best = max(values.index, key=lambda c: (values[c], c))
        out[budget] = {"rival": best, "by": signal, "dev": {c: float(v) for c, v in values.items()}}
    return out


def comparisons(systems, chosen: dict[str, dict], baselines) -> list[tuple[str, str]]:
    """(treatment, baseline) pairs: every OT student against each declared baseline (``rival``: the
    dev-chosen one at its budget)."""
    pairs = []
    for name in sorted(systems):
        system = parse(name)
        if not system.transports:
            continue
        for baseline in baselines:
            if baseline == RIVAL:
                if system.budget in chosen:
                    pairs.append((name, chosen[system.budget]["rival"]))
            elif baseline in systems:
                pairs.append((name, baseline))
    return pairs


def seed_values(per_query: pd.DataFrame, measure: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per system, its (seeds, queries) values of ``measure`` over the queries every system has."""
    queries = sorted(set.intersection(*(set(g["query"]) for _, g in per_query.groupby("system"))))
    values = {}
    for system, group in per_query.groupby("system"):
        seeds = group.seed.fillna(-1) if "seed" in group else pd.Series(-1, index=group.index)
        table = group.assign(seed=seeds).pivot_table(index="seed", columns="query", values=measure, aggfunc="first")
        values[system] = table[queries].to_numpy()
    return values, queries


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether every seed of ``a`` equals every seed of ``b`` on every query ((seeds, queries) arrays)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return a.shape[1] == b.shape[1] and all(np.array_equal(x, y) for x in a for y in b)


def test_family(values: dict[str, np.ndarray], pairs, plan: FamilyPlan) -> pd.DataFrame:
    """Every pair of a family: two-level bootstrap, correction over the family, the smallest
    detectable difference at the family's corrected level."""
    level = family_level(plan.alpha, len(pairs))
    rows = []
    for treatment, baseline in pairs:
        a, b = values[treatment], values[baseline]
        test = two_level_bootstrap(a, b, plan.n_resamples, plan.seed)
        power = minimum_detectable_effect(a, b, level)
        if same_values(a, b):
            # The same student (dev selection kept the untrained weights in every seed): averaging
            # identical seeds leaves differences of one rounding unit, which a test must not read.
            test = {**test, "diff": 0.0, "diff_ci_low": 0.0, "diff_ci_high": 0.0, "p": 1.0,
                    "diff_by_seed": [0.0] * len(test["diff_by_seed"])}
            power = {**power, "mde": 0.0, "queries_needed": 0.0}
        rows.append({"treatment": treatment, "baseline": baseline, "treatment_mean": float(a.mean()),
                     "baseline_mean": float(b.mean()), **{k: test[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "p")},
                     "seeds": test["seeds"], "seeds_agree": test["seeds_agree"],
                     "diff_by_seed": ", ".join(f"{d:+.4f}" for d in test["diff_by_seed"]),
                     "mde": power["mde"], "queries_needed": power["queries_needed"]})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = correct(table.p.to_numpy(), plan.correction) if len(table) else []
    table["significant"] = table.p_adjusted < plan.alpha
    table.attrs.update(test="two-level bootstrap", correction=plan.correction, alpha=plan.alpha,
                       queries=int(next(iter(values.values())).shape[1]) if values else 0, family_size=len(pairs),
                       mde_level=level)
    return table


def declared_families(per_query: pd.DataFrame, results: pd.DataFrame, plan: FamilyPlan) -> tuple[dict, dict]:
    """The plan's families over notebook 03's per-query measures: {scope key: tested family} and
    the rivals chosen on dev per (language, budget)."""
    per_query = per_query if "task" in per_query else per_query.assign(task="crossref")
    chosen = {}
    if RIVAL in plan.baselines:
        chosen = {language: rivals(results, language, plan.rival_by) for language in sorted(per_query.language.unique())}
    groups: dict[tuple, list] = {}
    for (task, language), part in per_query.groupby(["task", "language"]):
        for scorer in plan.scorers:
            rows = part[part.scorer.isin([scorer, BASELINE_SCORER])]
            if rows.empty:
                continue
            for measure in plan.measures:
                values, _ = seed_values(rows, measure)
                pairs = comparisons(values, chosen.get(language, {}), plan.baselines)
                if not pairs:
                    continue
                labels = {"task": task, "language": language, "scorer": scorer, "measure": measure}
                key = tuple(labels[k] for k in plan.scope)
                groups.setdefault(key, []).append((labels, values, pairs))
    families = {}
    for key, members in groups.items():
        merged_values = {}
        merged_pairs = []
        for labels, values, pairs in members:
            suffix = "" if len(members) == 1 else " | " + " ".join(str(labels[k]) for k in SCOPE_KEYS if k not in plan.scope)
            for name, array in values.items():
                merged_values[name + suffix] = array
            merged_pairs += [(t + suffix, b + suffix) for t, b in pairs]
        families[key] = test_family(merged_values, merged_pairs, plan)
    return families, chosen
