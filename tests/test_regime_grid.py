"""Notebook 04's regime grid: the grid in the setting the regime probe chose, over its own alphas,
checked before anything runs, refused where the stored probe chose another setting, and stored
apart from the grid's own results."""
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.experiments import grid_parts
from otclir.experiments.ablation import HybridParameters, point_record
from otclir.experiments.regime_grid import (STORE, RegimeGridParameter, RegimeGridStore, check_probe_choice,
                                            regime_grid)

REGIME = {"grid_name": "quick-regime", "alphas": [0.0, 0.25, 1.0], "training": {"frozen_layers": 4, "lr": 1e-4,
                                                                                "dev_seed": 0},
          "evaluation": {"settings": ["multilingual", "multilingual-round-robin"]}}


def parameters() -> HybridParameters:
    return HybridParameters(grid_name="quick", alphas=[0.0, 0.5, 1.0], ot_weights=[0.0], budgets=[200], seeds=[0, 1],
                            training={"languages": ["en", "sw"], "steps": 3, "eval_every": 3, "frozen_layers": 8})


def test_the_regime_grid_puts_its_settings_over_the_grids(tmp_outputs):
    grid, regime = parameters().grid(), regime_grid(parameters(), REGIME)
    assert regime.alphas == [0.0, 0.25, 1.0] and regime.seeds == grid.seeds and regime.budgets == grid.budgets
    assert regime.training == {**grid.training, "frozen_layers": 4, "lr": 1e-4, "dev_seed": 0}
    assert regime.evaluation_settings()["settings"] == ["multilingual", "multilingual-round-robin"]
    assert regime.baseline  # its untrained student is evaluated with its own settings
    mine = {point_record(regime, p)[2].name for p in regime.points()}
    assert not mine & {point_record(grid, p)[2].name for p in grid.points()}
    assert RegimeGridStore("quick").folder.name == STORE
    assert grid_parts.parts_folder("quick", STORE) != grid_parts.parts_folder("quick")


@pytest.mark.parametrize("declared, says", [
    ({"alphas": [0.0]}, "lacks grid_name"),
    ({**REGIME, "training": {"lr": 1e-4}}, "lacks frozen_layers"),
    ({**REGIME, "alphas": [0.0, 1.5]}, "alphas"),
    ({**REGIME, "alphaz": [0.0]}, "alphaz"),
    ({**REGIME, "grid_name": "quick"}, "grid's own"),
    ({**REGIME, "evaluation": {"settings": ["pooled"]}}, "pooled"),
])
def test_a_bad_regime_grid_is_named_before_anything_runs(declared, says):
    with pytest.raises(OtclirError, match=says):
        RegimeGridParameter(regime_grid=declared)
        regime_grid(parameters(), declared)


def test_a_regime_other_than_the_probes_choice_is_refused():
    check_probe_choice(REGIME, {"frozen_layers": 4, "lr": 1e-4, "best_gap": 0.0101})
    with pytest.raises(OtclirError, match="probe chose"):
        check_probe_choice(REGIME, {"frozen_layers": 8, "lr": 1e-4, "best_gap": 0.02})
    with pytest.raises(OtclirError, match="nowhere to run"):
        check_probe_choice(REGIME, None)


def test_the_paper_profile_declares_the_probes_choice():
    """The declared regime is the one the stored probe's rule picks (where the probe is stored)."""
    from otclir.experiments import hybrid_regime
    from otclir.experiments.results import ResultStore
    from otclir.runner import declared_regime_grid

    parameters, declared = declared_regime_grid("paper")
    grid = regime_grid(parameters, declared)
    assert len(grid.points()) == 15 and grid.training["dev_seed"] == 0
    if ResultStore("paper", hybrid_regime.STORE).exists():
        probe = hybrid_regime.load("paper")
        choice = hybrid_regime.choose_setting(hybrid_regime.gaps(probe["configurations"]), probe["settings"].margin)
        check_probe_choice(declared, choice)
    with pytest.raises(OtclirError, match="profile 'quick' declares no regime_grid"):
        declared_regime_grid("quick")


def test_probe_choice_reads_a_table_like_the_stored_one():
    table = pd.DataFrame({"frozen_layers": [8, 8, 4, 4], "lr": [2e-5, 1e-4, 2e-5, 1e-4],
                          "best_gap": [-0.002, 0.002, -0.008, 0.0101], "minutes_per_configuration": [4, 4, 5, 5]})
    from otclir.experiments.hybrid_regime import choose_setting

    check_probe_choice(REGIME, choose_setting(table, 0.01))


@pytest.mark.slow
@pytest.mark.cost(150)
def test_a_small_regime_grid_is_computed_staged_stored_and_read(tmp_outputs, tmp_path, monkeypatch):
    """The whole path the paper's regime grid takes, at toy size: trained and untrained systems in
    the multilingual pool and its merges, with the fairness columns, stored and read back."""
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    from otclir.evaluation.alpha_reading import FAIRNESS, fairness_table, measures_by_system
    from otclir.experiments import regime_grid as module
    from otclir.experiments.ablation import read_stored_grid

    small = HybridParameters(grid_name="quick", alphas=[0.0, 1.0], ot_weights=[0.0], budgets=[16], seeds=[0],
                             training={"languages": ["en", "sw"], "steps": 2, "batch_size": 4, "eval_every": 2,
                                       "dev_queries": 5, "dev_docs": 15, "checkpoint_every": 2, "max_length": 32},
                             evaluation={"max_queries": 6, "max_docs": 30, "depth": None})
    declared = {**REGIME, "alphas": [0.0, 1.0],
                "evaluation": {"settings": ["multilingual", "multilingual-round-robin", "multilingual-normalised"]}}
    staged = []
    record = module.compute(small, declared, "quick", log=staged.append)
    assert record["files"] and not grid_parts.staged_parts("quick", STORE)  # stored whole: the parts are gone
    assert sum("trained in" in line for line in staged) == 3  # the untrained student and two alphas
    grid = regime_grid(small, declared)
    summary, per_query = read_stored_grid(RegimeGridStore("quick"), grid)
    assert set(per_query.setting) == {"multilingual", "multilingual-round-robin", "multilingual-normalised"}
    assert per_query[list(FAIRNESS)].notna().all().all()
    table = measures_by_system(per_query, ["multilingual"], ["AP", "PEER@100"], n_resamples=50)
    assert set(table.system) == {"untrained", "alpha=0", "alpha=1"}
    assert list(fairness_table(per_query, n_resamples=50).index) == ["untrained", "alpha=0", "alpha=1"]
    again = module.compute(small, declared, "quick", log=staged.append)  # the same settings and code: kept
    assert again["files"] == record["files"]
