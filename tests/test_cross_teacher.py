"""A teacher that is not the student: MiniLM reads English, e5 reads the other language through a
learned map initialised in closed form; the map trains, is saved with the student and resumes."""
import numpy as np
import pytest

from otclir.errors import OtclirError
from otclir.training.checkpoints import read_log
from otclir.training.cross_teacher import CrossTeacherConfig, CrossTeacherDistiller, load_map

CONFIG = dict(language="tl", objective="ot+sentence_mse", train_pairs=16, steps=3, batch_size=4, max_length=24,
              eval_every=1, checkpoint_every=1, dev_queries=12, dev_docs=60, balance_batches=1, lr=1e-3,
              epsilon=0.1)


@pytest.mark.parametrize("change, message", [
    ({"teacher": "e5-small-student"}, "cross-model teacher is another model"),
    ({"plan": "fixed"}, "mapped last-layer states"),
    ({"map_init": "cca"}, "map initialisations"),
])
def test_a_cross_teacher_is_checked_before_anything_loads(change, message):
    with pytest.raises(OtclirError, match=message):
        CrossTeacherConfig(**{**CONFIG, **change})


@pytest.mark.slow
@pytest.mark.cost(60)
def test_the_map_starts_aligned_trains_is_saved_and_resumes(tmp_outputs, tmp_path):
    config = CrossTeacherConfig(**CONFIG)
    assert config.trainer_class() is CrossTeacherDistiller and config.teacher == "minilm-teacher"
    trainer = CrossTeacherDistiller(config, tmp_path / "whole", progress=False)
    initial = trainer.map_matrix()
    assert initial.shape == (384, 384) and not np.allclose(initial, np.eye(384), atol=0.05)
    result = trainer.train(progress=False)
    assert result["steps"] == 3
    log = read_log(tmp_path / "whole")
    start = log.iloc[0]
    assert start["probe_plan_entropy"] < 0.95  # the first plan already prefers partners: not the uniform plan
    assert log["dev_bitext_MRR"].notna().sum() == 4 and log["ot"].notna().sum() == 3
    final = load_map(tmp_path / "whole" / "final")
    assert np.abs(final - initial).max() > 1e-4  # the map is trained with the student
    cut = CrossTeacherDistiller(config, tmp_path / "cut", progress=False)
    assert "interrupted_at" in cut.train(stop_after=2, progress=False)
    CrossTeacherDistiller(config, tmp_path / "cut", progress=False).train(progress=False)
    np.testing.assert_allclose(load_map(tmp_path / "cut" / "final"), final, rtol=0, atol=1e-6)
    with pytest.raises(OtclirError, match="no linear_map.npy"):
        load_map(tmp_path)
