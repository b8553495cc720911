"""The regime probe trains the single strategies per frozen layers and learning rate on one fixed dev
sample, stores their dev curves as a part of its own, and names the cheapest setting where they differ."""
import shutil

import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.experiments import hybrid_regime
from otclir.experiments.hybrid_regime import RegimeProbe

TINY = {"languages": ["en", "sw"], "steps": 2, "batch_size": 4, "eval_every": 1, "dev_queries": 5, "dev_docs": 15,
        "checkpoint_every": 2, "max_length": 32}


@pytest.mark.parametrize("settings, says", [
    ({"training": {"lr": 1e-4}}, "probe's own settings"),
    ({"alphas": [0.5]}, "at least two alphas"),
    ({"frozen_layers": [-1]}, "frozen_layers"),
    ({"margin": -0.1}, "margin"),
    ({"training": {"languages": ["en"]}}, "cross-lingual batches"),
])
def test_a_bad_probe_is_named_before_anything_trains(settings, says):
    with pytest.raises(OtclirError, match=says):
        RegimeProbe.from_dict({"training": TINY, **settings} if "training" not in settings
                              else {**settings, "training": {**TINY, **settings["training"]}})


def test_every_configuration_shares_the_seed_and_the_dev_sample():
    probe = RegimeProbe.from_dict({"frozen_layers": [8, 0], "lrs": [2e-5], "training": TINY})
    configs = [probe.config(p) for p in probe.points()]
    assert len(configs) == 4 and {(c.frozen_layers, c.alpha) for c in configs} == {(8, 0), (8, 1), (0, 0), (0, 1)}
    assert {c.seed for c in configs} == {0} and {c.dev_seed for c in configs} == {0}


def test_gaps_and_the_cheapest_setting_where_the_strategies_differ():
    rows = []
    for frozen, lr, a0, a1, seconds in [(8, 2e-5, 0.25, 0.248, 200), (4, 2e-5, 0.27, 0.25, 260),
                                        (0, 2e-5, 0.29, 0.25, 400), (4, 1e-4, 0.20, 0.26, 260)]:
        for alpha, dev in ((0.0, a0), (1.0, a1)):
            rows.append({"frozen_layers": frozen, "lr": lr, "alpha": alpha, "best_step": 100, "best_dev_AP": dev,
                         "final_dev_AP": dev, "step_seconds": 1.0, "train_seconds": seconds})
    table = hybrid_regime.gaps(pd.DataFrame(rows))
    assert table.set_index(["frozen_layers", "lr"]).best_gap.round(3).to_dict() == {
        (0, 2e-5): 0.04, (4, 2e-5): 0.02, (4, 1e-4): -0.06, (8, 2e-5): 0.002}
    assert hybrid_regime.choose_setting(table, 0.01) == {
        "frozen_layers": 4, "lr": 2e-5, "best_gap": pytest.approx(0.02), "minutes_per_configuration": pytest.approx(260 / 60)}
    assert hybrid_regime.choose_setting(table, 0.1) is None


@pytest.mark.slow
@pytest.mark.cost(90)
def test_the_probe_stages_each_configuration_resumes_stores_and_is_kept(tmp_outputs, tmp_path, monkeypatch):
    import otclir.training.trainer as trainer

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    probe = RegimeProbe.from_dict({"frozen_layers": [10], "lrs": [1e-4], "training": TINY})
    real_train, trained = trainer.train, []

    def train_until_alpha_one(config, folder, **kwargs):
        if config.alpha == 1.0:
            raise RuntimeError("stopped")  # a session ends after the first configuration
        trained.append(config.alpha)
        return real_train(config, folder, **kwargs)

    monkeypatch.setattr(trainer, "train", train_until_alpha_one)
    with pytest.raises(RuntimeError, match="stopped"):
        hybrid_regime.compute(probe, "quick", log=lambda m: None)
    assert len(list(hybrid_regime.parts_folder("quick").iterdir())) == 1  # alpha 0 staged
    for folder in (tmp_outputs / "regime").iterdir():  # a fresh clone: outputs/ is gone, the staged part is not
        shutil.rmtree(folder)

    def train_alpha_one_only(config, folder, **kwargs):
        if config.alpha == 0.0:
            raise RuntimeError("alpha 0 trained again")
        trained.append(config.alpha)
        return real_train(config, folder, **kwargs)

    monkeypatch.setattr(trainer, "train", train_alpha_one_only)
    record = hybrid_regime.compute(probe, "quick", log=lambda m: None)
    assert trained == [0.0, 1.0] and not hybrid_regime.parts_folder("quick").exists()
    stored = hybrid_regime.load("quick")
    assert stored["settings"] == probe and record["code"]
    curves = stored["curves"]
    assert sorted(curves.alpha.unique()) == [0.0, 1.0] and curves.groupby("alpha").step.max().tolist() == [2, 2]
    assert (stored["configurations"].train_seconds > 0).all()

    def no_training(*args, **kwargs):
        raise RuntimeError("trained again")

    monkeypatch.setattr(trainer, "train", no_training)
    assert hybrid_regime.compute(probe, "quick", log=lambda m: None) == record  # same settings, same code: kept
