"""The answers' students' dev checks: every signal per fold of the dev books, the dev set's noise
(standard error over queries) and each check's change since the first with its paired standard
error, kept across a resume."""
import pandas as pd
import pytest

from otclir.training.checkpoints import read_log
from otclir.training.configs import DistillConfig
from otclir.training.dev_folds import FoldedDevDistiller

CONFIG = dict(language="tl", objective="sentence_mse", train_pairs=16, steps=4, batch_size=4, max_length=24,
              eval_every=1, checkpoint_every=1, dev_queries=12, dev_docs=60, balance_batches=1, lr=1e-3)


@pytest.mark.slow
@pytest.mark.cost(60)
def test_dev_checks_log_folds_and_noise_and_resume_with_their_reference(tmp_outputs, tmp_path):
    config = DistillConfig(**CONFIG)
    FoldedDevDistiller(config, tmp_path / "whole", progress=False).train(progress=False)
    assert "interrupted_at" in FoldedDevDistiller(config, tmp_path / "cut", progress=False).train(stop_after=2,
                                                                                                   progress=False)
    FoldedDevDistiller(config, tmp_path / "cut", progress=False).train(progress=False)
    whole, cut = read_log(tmp_path / "whole"), read_log(tmp_path / "cut")
    checks = whole[whole["dev_AP"].notna()]
    assert len(checks) == 5  # the untrained student and four checks
    first = checks.iloc[0]
    assert first["dev_AP_change"] == 0 and first["dev_AP_change_se"] == 0 and first["dev_AP_se"] > 0
    assert {"dev_nDCG@10@fold0", "dev_nDCG@10@fold1", "dev_bitext_MRR@fold0"} <= set(checks.columns)
    assert (checks["dev_AP_change"] - (checks["dev_AP"] - first["dev_AP"])).abs().max() < 1e-12
    columns = [c for c in checks.columns if c.startswith("dev_")]
    pd.testing.assert_frame_equal(checks[columns].reset_index(drop=True),
                                  cut[cut["dev_AP"].notna()][columns].reset_index(drop=True))


class _FallingDev(FoldedDevDistiller):
    """Dev checks that only get worse, so patience would stop the run at its first check."""

    def evaluate_dev(self):
        return {"dev_nDCG@10": 1.0 - 0.1 * self.step, "dev_AP": 1.0 - 0.1 * self.step}


@pytest.mark.cost(20)
def test_patience_stops_a_run_only_after_it_has_seen_every_pair_once(tmp_outputs, tmp_path):
    # 16 pairs in batches of 4: one epoch is 4 steps; one check without gain would stop at step 1
    config = DistillConfig(**{**CONFIG, "steps": 12, "patience": 1, "select_by": "dev_nDCG@10"})
    result = _FallingDev(config, tmp_path / "run", progress=False).train(progress=False)
    assert result["stopped_early"] and result["steps"] == 4 and result["best"]["step"] == 0
