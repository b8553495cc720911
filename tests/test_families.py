"""Comparisons declared before the run: the rival is chosen on dev and nothing on the test split
changes a family; the two-level interval covers with training seeds inside where the query-only
one does not; the detectable difference is statsmodels' paired t-test power."""
import numpy as np
import pandas as pd
import pytest

from otclir.evaluation import families, map_significance, power
from otclir.evaluation.distillation_training import headline_differences
from otclir.evaluation.seed_bootstrap import two_level_bootstrap

SYSTEMS = {"student-zero-shot": 0.20, "ceiling-teacher-on-english": 0.40, "distill-sentence_mse@500": 0.22,
           "distill-contrastive@500": 0.23, "distill-ot@500": 0.24}
DEV = {"distill-sentence_mse@500": 0.31, "distill-contrastive@500": 0.30, "distill-ot@500": 0.32}  # MSE best on dev


def seeded_results(queries=60, seeds=(0, 1, 2), rng=None):
    rng = rng or np.random.default_rng(0)
    rows, results = [], []
    for task in ("crossref", "topical"):
        for language in ("sw", "fr"):
            difficulty = rng.uniform(0, 0.2, queries)
            for system, mean in SYSTEMS.items():
                trained = system.startswith("distill")
                for seed in (seeds if trained else [np.nan]):
                    values = np.clip(mean + difficulty - 0.1 + rng.normal(0, 0.03, queries), 0, 1)
                    for scorer in ("mean", "maxsim"):
                        rows += [{"task": task, "language": language, "query": f"q{i}", "system": system,
                                  "scorer": scorer, "seed": seed, "AP": v, "nDCG@10": v} for i, v in enumerate(values)]
                        results.append({"task": task, "language": language, "system": system, "scorer": scorer,
                                        "seed": seed, "AP": values.mean(),
                                        "selected_dev_nDCG@10": DEV.get(system, np.nan) + 0.001 * (seed or 0)})
    return pd.DataFrame(rows), pd.DataFrame(results)


PLAN = families.FamilyPlan(baselines=["student-zero-shot", "rival"], rival_by="dev_nDCG@10", n_resamples=300)


def members(found):
    return {key: list(zip(f.treatment, f.baseline)) for key, f in found.items()}


def test_the_rival_is_the_best_on_dev_with_the_dev_numbers_that_chose_it():
    per_query, results = seeded_results()
    found, chosen = families.declared_families(per_query, results, PLAN)
    assert chosen["sw"]["500"]["rival"] == "distill-sentence_mse@500"  # best on dev, worse than contrastive on test
    assert chosen["sw"]["500"]["dev"]["distill-contrastive@500"] == pytest.approx(0.301)
    assert members(found)[("crossref", "sw", "maxsim", "AP")] == [("distill-ot@500", "student-zero-shot"),
                                                                   ("distill-ot@500", "distill-sentence_mse@500")]
    assert len(found) == 2 * 2 * 2 * 2
    family = found[("crossref", "sw", "maxsim", "AP")]
    assert set(family.seeds) == {3} and (family.mde > 0).all() and family.attrs["mde_level"] == pytest.approx(0.025)


def test_random_test_values_leave_every_family_as_it_was():
    per_query, results = seeded_results()
    before = members(families.declared_families(per_query, results, PLAN)[0])
    scrambled = per_query.assign(AP=np.random.default_rng(7).uniform(0, 1, len(per_query)),
                                 **{"nDCG@10": np.random.default_rng(8).uniform(0, 1, len(per_query))})
    assert members(families.declared_families(scrambled, results, PLAN)[0]) == before
    reversed_dev = results.assign(**{"selected_dev_nDCG@10": -results["selected_dev_nDCG@10"]})
    after = members(families.declared_families(per_query, reversed_dev, PLAN)[0])
    assert after != before  # the dev numbers, and only they, choose the rival


def test_a_wider_scope_makes_one_family_of_both_scorers():
    per_query, results = seeded_results()
    plan = families.FamilyPlan(baselines=["student-zero-shot"], rival_by="dev_nDCG@10", scope=["task", "language",
                                                                                                "measure"],
                               n_resamples=300)
    found, _ = families.declared_families(per_query, results, plan)
    family = found[("crossref", "sw", "AP")]
    assert sorted(family.treatment) == ["distill-ot@500 | maxsim", "distill-ot@500 | mean"]


def test_the_forest_rows_are_students_against_zero_shot_and_ot_against_its_dev_rival():
    per_query, results = seeded_results()
    rows = headline_differences(per_query, results, "dev_nDCG@10", n_resamples=200)
    part = rows[(rows.task == "crossref") & (rows.language == "sw") & (rows.scorer == "mean")]
    assert sorted(zip(part.system, part.baseline_system)) == sorted(
        [(s, "student-zero-shot") for s in DEV] + [("distill-ot@500", "distill-sentence_mse@500")])
    zero = part[part.baseline == "zero-shot"].iloc[0]
    gap = (per_query.query("task == 'crossref' and language == 'sw' and scorer == 'mean'")
           .groupby("system").AP.mean())
    assert zero.goal == pytest.approx(0.3 * (gap["ceiling-teacher-on-english"] - gap["student-zero-shot"]))
    assert (part.low <= part["diff"]).all() and (part["diff"] <= part.high).all() and set(part.seeds) == {3}


def test_the_two_level_interval_covers_with_seed_variance_and_the_query_only_one_does_not():
    rng = np.random.default_rng(1)
    simulations, seeds, queries = 200, 3, 300
    covered = {"two-level": 0, "queries only": 0}
    for s in range(simulations):  # two systems with the same true mean; seed SD of a mean 0.004
        difficulty = rng.normal(0, 0.1, queries)
        a = 0.2 + difficulty + rng.normal(0, 0.05, (seeds, queries)) + rng.normal(0, 0.004, (seeds, 1))
        b = 0.2 + difficulty + rng.normal(0, 0.05, (seeds, queries)) + rng.normal(0, 0.004, (seeds, 1))
        both = two_level_bootstrap(a, b, 300, s)
        query_only = two_level_bootstrap(a.mean(0), b.mean(0), 300, s)
        covered["two-level"] += both["diff_ci_low"] <= 0 <= both["diff_ci_high"]
        covered["queries only"] += query_only["diff_ci_low"] <= 0 <= query_only["diff_ci_high"]
    assert 0.90 <= covered["two-level"] / simulations <= 0.99
    assert covered["queries only"] / simulations < 0.85


@pytest.mark.parametrize("n, alpha", [(1536, 0.05), (200, 0.0125), (30, 0.05)])
def test_the_detectable_difference_is_statsmodels_paired_t_power(n, alpha):
    from statsmodels.stats.power import TTestPower

    sd = 0.07
    theirs = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8, alternative="two-sided") * sd
    assert power.detectable_difference(sd, n, alpha) == pytest.approx(theirs, rel=1e-4)  # both solve numerically


def test_the_queries_needed_detect_the_observed_difference_and_seed_variance_can_make_it_unreachable():
    rng = np.random.default_rng(3)
    a = rng.normal(0.21, 0.05, 400)
    b = a - 0.004 + rng.normal(0, 0.03, 400)
    found = power.minimum_detectable_effect(a, b, 0.05)
    from statsmodels.stats.power import TTestPower

    effect = abs(a.mean() - b.mean()) / (a - b).std(ddof=1)
    achieved = TTestPower().power(effect_size=effect, nobs=found["queries_needed"], alpha=0.05)
    assert achieved >= 0.8 > TTestPower().power(effect_size=effect, nobs=found["queries_needed"] - 1, alpha=0.05)
    seeded_a = np.stack([a + d for d in (-0.02, 0.0, 0.02)])  # seed spread far above the difference
    assert power.minimum_detectable_effect(seeded_a, b)["queries_needed"] == float("inf")


def test_the_declared_per_query_comparison_is_plain_ot_at_the_largest_budget_on_the_results_own_task():
    rows = []
    for task in ("collection",):
        for system, shift in (("student-zero-shot", 0.0), ("distill-ot@500", 0.01), ("distill-ot@2000", 0.02),
                              ("distill-ot+contrastive@2000", 0.5), ("distill-sentence_mse@2000", 0.3)):
            for query in range(6):
                rows.append({"task": task, "language": "sw", "scorer": "maxsim", "system": system,
                             "query": str(query), "AP": 0.1 + shift + 0.01 * query})
    per_query = pd.DataFrame(rows)
    differences, compared = map_significance.declared_per_query(per_query)
    assert compared == {"sw": ("distill-ot@2000", "student-zero-shot")}  # never the best on test (OT + contrastive)
    assert differences["sw"].round(6).eq(0.02).all()
    both = pd.concat([per_query.assign(task="topical"), per_query.assign(task="crossref",
                                                                          AP=per_query.AP * 2)])
    differences, _ = map_significance.declared_per_query(both)
    assert differences["sw"].round(6).eq(0.04).all()  # the cross-references where the results have them


def test_a_student_dev_selection_kept_untrained_is_the_zero_shot_student_not_a_test_of_rounding():
    rng = np.random.default_rng(3)
    zero = rng.uniform(0, 1, (1, 300)) / 7
    kept = np.repeat(zero, 3, axis=0)
    moved = kept + rng.normal(0, 0.01, kept.shape)
    plan = families.FamilyPlan()
    table = families.test_family({"ot": kept, "zero": zero, "moved": moved}, [("ot", "zero"), ("moved", "zero")], plan)
    same, different = table.iloc[0], table.iloc[1]
    assert (same["diff"], same.diff_ci_low, same.diff_ci_high, same.p, same.mde) == (0, 0, 0, 1, 0)
    assert not same.significant and different.mde > 0
    assert families.same_values(kept, zero) and not families.same_values(moved, zero)
    assert not families.same_values(zero[:, :10], zero)
