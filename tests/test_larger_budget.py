"""Notebook 04's larger budget: the same grid with more steps over more pairs, computed by the same
code, checked before anything runs, staged and stored apart from the grid's own results."""
import pytest

from otclir.errors import OtclirError
from otclir.experiments import grid_parts
from otclir.experiments.ablation import HybridParameters, point_record
from otclir.experiments.larger_budget import STORE, LargerBudget, LargerBudgetStore, larger_grid
from otclir.experiments.provenance import notebook_code

LARGER = {"grid_name": "quick-larger", "steps": 12, "eval_every": 4, "checkpoint_every": 4, "train_pairs": None}


def parameters() -> HybridParameters:
    return HybridParameters(grid_name="quick", alphas=[0.0, 0.5, 1.0], ot_weights=[0.0], budgets=[200], seeds=[0, 1],
                            training={"languages": ["en", "sw"], "steps": 3, "eval_every": 3, "checkpoint_every": 3})


def test_the_larger_grid_changes_only_the_budget_and_gets_folders_of_its_own(tmp_outputs):
    grid, larger = parameters().grid(), larger_grid(parameters(), LARGER)
    assert (larger.alphas, larger.ot_weights, larger.seeds) == (grid.alphas, grid.ot_weights, grid.seeds)
    assert larger.budgets == [None] and not larger.baseline and larger.name == "quick-larger"
    assert larger.training == {**grid.training, "steps": 12, "eval_every": 4, "checkpoint_every": 4}
    assert larger.evaluation_settings() == grid.evaluation_settings()
    mine = {point_record(larger, p)[2].name for p in larger.points()}
    assert not mine & {point_record(grid, p)[2].name for p in grid.points()}


@pytest.mark.parametrize("larger, says", [
    ({"grid_name": "x", "steps": 12}, "lacks eval_every, checkpoint_every"),
    ({**LARGER, "steps": 0}, "steps"),
    ({**LARGER, "train_pairs": "all"}, "train_pairs"),
    ({**LARGER, "stepz": 3}, "stepz"),
    ({**LARGER, "grid_name": "quick"}, "grid's own"),
    ({**LARGER, "steps": 3}, "must be more than the grid's"),
])
def test_a_bad_larger_budget_is_named_before_anything_runs(larger, says):
    with pytest.raises(OtclirError, match=says):
        LargerBudget(larger_budget=larger)
        larger_grid(parameters(), larger)


def test_the_larger_grid_is_staged_and_stored_apart_with_the_grids_code(tmp_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    from otclir.experiments.provenance import store_key

    # its own key, which covers all of the grid's code (the grid's function computes it)
    assert LargerBudgetStore("quick").code == notebook_code(STORE) is not None
    assert set(store_key("04_hybrid_batch_ablations").units) <= set(store_key(STORE).units)
    assert LargerBudgetStore("quick").folder.name == STORE
    assert grid_parts.parts_folder("quick", STORE) != grid_parts.parts_folder("quick")


def test_the_paper_profile_declares_its_larger_budget_and_a_profile_without_one_is_named(tmp_outputs):
    from otclir.runner import declared_larger_budget as declared

    parameters, larger = declared("paper")
    grid = larger_grid(parameters, larger)
    assert grid.budgets == [None] and grid.training["steps"] == 4 * parameters.training["steps"]
    assert grid.seeds == parameters.seeds and grid.alphas == parameters.alphas
    with pytest.raises(OtclirError, match="profile 'quick' declares no larger_budget"):
        declared("quick")
