"""The transport loss as a sentence-transformers loss: the compendium's objective on the same batch,
a teacher of another width, and arguments checked before anything runs."""
import pytest
import torch

from otclir.errors import OtclirError

pytestmark = pytest.mark.slow

CONFIG = dict(language="sw", objective="ot+sentence_mse", train_pairs=8, steps=1, batch_size=4, max_length=24,
              eval_every=1, dev_queries=5, dev_docs=20, frozen_layers=0, seed=0, balance_losses=False,
              bucket_batches=False)


@pytest.fixture(scope="module")
def distiller(tmp_path_factory):
    from otclir.training.configs import DistillConfig
    from otclir.training.distillation import Distiller

    trainer = Distiller(DistillConfig(**CONFIG), tmp_path_factory.mktemp("run"), progress=False)
    trainer.sampler = trainer.prepare_data()
    return trainer


def _sentence_transformer(path, max_length):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = max_length
    return model.eval()


def test_a_batch_gives_the_compendiums_own_terms(distiller):
    from otclir.losses import OptimalTransportDistillationLoss

    rows = [0, 1, 2, 3]
    distiller.module.eval()  # no dropout on either side
    with torch.no_grad():
        terms, _ = distiller.term_losses(rows)
    cfg, student = distiller.config, distiller.student
    model = _sentence_transformer(student.spec.path, cfg.max_length)
    teacher = _sentence_transformer(distiller.teacher.spec.path, cfg.max_length)
    loss = OptimalTransportDistillationLoss(model, teacher, epsilon=cfg.epsilon, max_iter=cfg.sinkhorn_iters,
                                            cost_scale=cfg.cost_scale, ot_weight=1.0, mse_weight=1.0,
                                            prompt_tokens=student.prefix_length("passage"))
    english = model.tokenize(student.prepare([distiller.pairs[i][0] for i in rows], "passage"))
    target = model.tokenize(student.prepare([distiller.pairs[i][1] for i in rows], "passage"))
    with torch.no_grad():
        value = loss([english, target])
    print(f"compendium: ot {float(terms['ot']):.8f}, sentence_mse {float(terms['sentence_mse']):.8f}; "
          f"sentence-transformers loss: {loss.last_terms}")
    assert loss.last_terms["ot"] == pytest.approx(float(terms["ot"]), rel=1e-5, abs=1e-7)
    assert loss.last_terms["sentence_mse"] == pytest.approx(float(terms["sentence_mse"]), rel=1e-5, abs=1e-9)
    assert float(value) == pytest.approx(float(terms["ot"] + terms["sentence_mse"]), rel=1e-5)


def test_a_teacher_with_another_tokenizer_reads_the_english_text(distiller):
    from otclir.losses import OptimalTransportDistillationLoss
    from otclir.models.registry import resolve

    model = _sentence_transformer(distiller.student.spec.path, 24)
    teacher = _sentence_transformer(resolve("minilm-teacher").path, 24)
    loss = OptimalTransportDistillationLoss(model, teacher, mse_weight=1.0)
    assert loss.projection is None and not loss.same_tokenizer  # both 384 wide, other vocabularies
    english_text, target_text = distiller.pairs[0]  # read from the installed data, never written here
    english, target = model.tokenize([english_text]), model.tokenize([target_text])
    retokenized = loss._teacher_features(english)
    expected = teacher.tokenizer.decode(teacher.tokenizer(english_text)["input_ids"], skip_special_tokens=True)
    seen = teacher.tokenizer.decode(retokenized["input_ids"][0], skip_special_tokens=True)
    assert len(seen.split()) >= 5 and expected.startswith(seen)  # the student's 24 tokens, read by the teacher
    value = loss([english, target])
    value.backward()
    assert torch.isfinite(value) and any(p.grad is not None for p in model.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_a_teacher_of_another_width_is_reached_through_a_learned_map(distiller):
    """The map's mechanics: a teacher whose token states are 256 wide (a small BERT of the
    student's vocabulary, untrained: only shapes and gradients are checked here)."""
    from transformers import BertConfig, BertModel

    from otclir.losses import OptimalTransportDistillationLoss

    model = _sentence_transformer(distiller.student.spec.path, 24)
    base = model[0].auto_model.config
    teacher = BertModel(BertConfig(vocab_size=base.vocab_size, hidden_size=256, num_hidden_layers=1,
                                   num_attention_heads=4, intermediate_size=512)).eval()
    teacher.tokenizer = model.tokenizer
    loss = OptimalTransportDistillationLoss(model, teacher, mse_weight=1.0)
    assert (loss.projection.in_features, loss.projection.out_features) == (384, 256) and loss.same_tokenizer
    features = model.tokenize([distiller.pairs[1][0]]), model.tokenize([distiller.pairs[1][1]])
    loss(features).backward()
    assert loss.projection.weight.grad is not None and loss.projection.weight.grad.abs().sum() > 0


def test_bad_arguments_are_named_before_anything_runs(distiller):
    from otclir.losses import OptimalTransportDistillationLoss

    model = _sentence_transformer(distiller.student.spec.path, 24)
    for kwargs, says in (({"epsilon": 0}, "epsilon"), ({"plan": "best"}, "plan"), ({"cost_scale": "max"}, "cost_scale"),
                         ({"ot_weight": 0, "mse_weight": 0}, "train nothing"), ({"prompt_tokens": -1}, "prompt_tokens")):
        with pytest.raises(OtclirError, match=says):
            OptimalTransportDistillationLoss(model, model, **kwargs)
    loss = OptimalTransportDistillationLoss(model, model)
    with pytest.raises(OtclirError, match="two text columns"):
        loss([model.tokenize(["a"])])
