"""The recipe study's grid, its choice by a dev signal, and the significance family it feeds."""
import numpy as np
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation.map_significance import distillation_family
from otclir.experiments.recipe_study import StudyGrid, choose_recipes, recipe_settings, signal_agreement


def test_grid_varies_epsilon_only_where_the_transport_term_is_used():
    grid = StudyGrid(objectives=["sentence_mse", "ot+contrastive"], lrs=[1e-4, 3e-4], epsilons=[0.1, 0.3], epochs=2,
                     evaluations_per_epoch=2, settings={"train_pairs": 160, "batch_size": 16})
    configs = grid.configs()
    assert len(configs) == 2 + 4
    assert {c.epsilon for c in configs if c.objective == "sentence_mse"} == {0.1}
    assert all(c.steps == 20 and c.eval_every == 5 and c.keep_evaluated for c in configs)
    with pytest.raises(OtclirError, match="unknown objective"):
        StudyGrid(objectives=["kl"])
    with pytest.raises(OtclirError, match="unknown study setting"):
        StudyGrid.from_dict({"lr": [1e-4]})


def _points():
    return pd.DataFrame([
        {"config": "a", "objective": "ot", "lr": 1e-4, "epsilon": 0.1, "step": 0, "epochs": 0.0, "dev_bitext_MRR": 0.90, "test_AP_mean": 0.05},
        {"config": "a", "objective": "ot", "lr": 1e-4, "epsilon": 0.1, "step": 10, "epochs": 1.0, "dev_bitext_MRR": 0.93, "test_AP_mean": 0.06},
        {"config": "b", "objective": "ot", "lr": 3e-4, "epsilon": 0.3, "step": 10, "epochs": 1.0, "dev_bitext_MRR": 0.95, "test_AP_mean": 0.07},
        {"config": "b", "objective": "ot", "lr": 3e-4, "epsilon": 0.3, "step": 20, "epochs": 2.0, "dev_bitext_MRR": 0.95, "test_AP_mean": 0.08},
        {"config": "c", "objective": "sentence_mse", "lr": 1e-4, "epsilon": np.nan, "step": 0, "epochs": 0.0, "dev_bitext_MRR": 0.90, "test_AP_mean": 0.05},
        {"config": "c", "objective": "sentence_mse", "lr": 1e-4, "epsilon": np.nan, "step": 10, "epochs": 1.0, "dev_bitext_MRR": 0.89, "test_AP_mean": 0.09},
    ])


def test_each_objective_gets_its_best_dev_point_ties_to_fewer_steps():
    chosen = choose_recipes(_points(), "dev_bitext_MRR")
    assert (chosen["ot"]["config"], chosen["ot"]["step"]) == ("b", 10)  # tie at 0.95: fewer steps
    assert chosen["sentence_mse"]["step"] == 0  # training lowered the dev signal: the untrained student
    grid = StudyGrid(objectives=["ot", "sentence_mse"], settings={"train_pairs": 160, "batch_size": 16, "lr": 1.0})
    recipe = recipe_settings(chosen["ot"], grid)
    assert recipe["settings"]["lr"] == 3e-4 and recipe["settings"]["epsilon"] == 0.3 and recipe["epochs"] == 1.0
    assert "train_pairs" not in recipe["settings"]
    assert "epsilon" not in recipe_settings(chosen["sentence_mse"], grid)["settings"]
    with pytest.raises(OtclirError, match="no dev signal 'dev_AP'"):
        choose_recipes(_points(), "dev_AP")


def test_signal_agreement_is_spearman_over_points():
    agreement = signal_agreement(_points())
    assert agreement.dev_signal.tolist() == ["dev_bitext_MRR"]
    assert -1 <= agreement.spearman_rho.iloc[0] <= 1


def test_without_dev_values_the_family_pairs_every_ot_student_with_each_rival_at_its_budget():
    per_query = pd.DataFrame({
        "student-zero-shot": [0.1, 0.2], "ceiling-teacher-on-english": [0.5, 0.5],
        "distill-sentence_mse@500": [0.1, 0.3], "distill-contrastive@500": [0.2, 0.3],
        "distill-ot@500": [0.2, 0.2], "distill-ot+contrastive@500": [0.3, 0.3],
        "distill-sentence_mse@2000": [0.4, 0.4], "distill-ot@2000": [0.2, 0.2], "bm25-dictionary@500": [0.0, 0.1]})
    expected = [
        ("distill-ot@500", "student-zero-shot"), ("distill-ot@500", "distill-contrastive@500"),
        ("distill-ot@500", "distill-sentence_mse@500"),
        ("distill-ot+contrastive@500", "student-zero-shot"), ("distill-ot+contrastive@500", "distill-contrastive@500"),
        ("distill-ot+contrastive@500", "distill-sentence_mse@500"),
        ("distill-ot@2000", "student-zero-shot"), ("distill-ot@2000", "distill-sentence_mse@2000")]
    assert distillation_family(per_query) == expected
    shuffled = per_query.sample(frac=1, axis=1, random_state=0).assign(**{"distill-contrastive@500": [0.9, 0.9]})
    assert sorted(distillation_family(shuffled)) == sorted(expected)  # no test value picks a member
