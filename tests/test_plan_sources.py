"""Plan sources: the adaptive plan moves with the student, the fixed and the statistical ones do not;
the statistical plan is a transport plan that follows the aligner's word links."""
import json

import pytest
import torch

from otclir.errors import OtclirError
from otclir.training.configs import DistillConfig
from otclir.transport.plan_sources import aligner_words, scale_to_plan, token_words


def test_each_plan_source_names_its_layer_and_bad_combinations_are_refused():
    assert DistillConfig().plan == "adaptive" and DistillConfig().plan_states_layer is None  # the loss's own layer
    assert DistillConfig(plan="fixed").plan_states_layer == 8  # the top frozen layer
    assert DistillConfig(plan="adaptive", plan_layer=10).plan_states_layer == 10
    assert DistillConfig(plan="statistical").plan_states_layer is None
    for values, message in (({"plan": "fixed", "plan_layer": 10}, "a fixed plan is solved on frozen states"),
                            ({"plan": "fixed", "frozen_layers": 0}, "set frozen_layers"),
                            ({"plan": "adaptive", "plan_layer": 8}, "must be above frozen_layers"),
                            ({"plan": "statistical", "plan_layer": 8}, "leave plan_layer None"),
                            ({"plan": "moving"}, "unknown plan 'moving'; plan sources: adaptive, fixed, statistical")):
        with pytest.raises(OtclirError, match=message):
            DistillConfig(**values)
    # a run stored before plan sources existed (the fixed plan) keeps its record and its folder
    assert "plan" not in DistillConfig(plan="fixed", plan_layer=8).to_record()
    assert DistillConfig().to_record()["plan"] == "adaptive"


def test_a_score_matrix_is_scaled_to_a_transport_plan_over_the_real_tokens():
    scores = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    rows, cols = torch.tensor([True, True, False]), torch.tensor([True, True, True])
    plan = scale_to_plan(scores, rows, cols)
    assert torch.allclose(plan.sum(1)[:2], torch.full((2,), 0.5), atol=1e-5) and plan[2].sum() == 0
    assert torch.allclose(plan.sum(0), torch.full((3,), 1 / 3), atol=1e-5)
    assert plan[0, 0] > plan[0, 1] and plan[1, 1] > plan[1, 0]  # the links keep most of the mass


def test_every_piece_of_a_word_maps_to_that_word(web):
    from otclir.models.tokenization import load_tokenizer

    tokenizer = load_tokenizer("e5-small-student")
    text = web[(43, 11, 35)]  # "Jesus wept."
    words, spans = aligner_words(text)
    prepared = "passage: " + text
    mapped, ids = token_words(tokenizer, prepared, len("passage: "), spans, 128)
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert words == ["jesus", "wept"]
    assert mapped[0] == -1 and mapped[-1] == -1  # <s> and </s>
    assert sorted(set(mapped[mapped >= 0])) == [0, 1]
    assert all(mapped[i] == -1 for i, p in enumerate(pieces) if p in ("▁passage", ":"))


TINY = dict(language="tl", objective="ot", train_pairs=32, steps=2, batch_size=4, max_length=48, eval_every=1,
            dev_queries=10, dev_docs=60, checkpoint_every=2, seed=1, lr=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("plan", ["adaptive", "fixed", "statistical"])
def test_only_the_adaptive_plan_moves_with_the_student(plan, tmp_path):
    from otclir.training.trainer import train

    train(DistillConfig(**TINY, plan=plan), tmp_path / plan, progress=False)
    log = [json.loads(line) for line in (tmp_path / plan / "log.jsonl").read_text().splitlines()]
    shifts = [record["plan_shift"] for record in log]
    aer = [record["plan_aer"] for record in log]
    assert shifts[0] == 0 and 0 < log[0]["probe_plan_entropy"] < 1 and all(0 < a < 1 for a in aer)
    if plan == "adaptive":  # the same probe batch's plan is not the one it was at the start
        assert shifts[-1] > 0.01 and aer[-1] != aer[0]
    else:  # a constant of each verse pair: the same plan at every check, the same gold AER
        assert shifts == [0.0] * len(log) and len(set(aer)) == 1


@pytest.mark.slow
def test_the_statistical_plan_is_a_plan_over_content_tokens_that_follows_the_aligners_links(tmp_path):
    from otclir.training.distillation import Distiller

    trainer = Distiller(DistillConfig(**{**TINY, "plan": "statistical", "eval_every": 0}), tmp_path, progress=False)
    plans = trainer.given_plans
    assert len(plans) == 32
    t_cache, s_cache = trainer.teacher_cache[12], trainer.student_cache[8]
    for k in range(3):
        plan = plans[k]
        assert plan.shape == (len(t_cache.input_ids[k]), len(s_cache.input_ids[k]))
        assert plan.sum().item() == pytest.approx(1.0, abs=1e-4)
        assert plan[0].sum() == 0 and plan[:, 0].sum() == 0  # special tokens take no part
        real = plan.sum(1) > 0
        assert torch.allclose(plan.sum(1)[real], torch.full((int(real.sum()),), 1 / int(real.sum())), atol=1e-4)
        assert plan.max() > 3 / plan.numel()  # far from the uniform plan: the links carry the mass
