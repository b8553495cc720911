"""ir_datasets collections: the loader on collections registered through ir_datasets' own API,
local folders of plain files, training examples in mMARCO's layout, bitext files, model pooling."""
import json

import pytest

from helpers import bible_collection
from otclir.data import external
from otclir.data.external import load_ir_dataset
from otclir.data.tasks import bitext_pairs, read_bitext
from otclir.errors import ModelBuildError, OtclirError


@pytest.fixture
def local_collection(tmp_path, web):
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    keys = sorted(web)[:20]
    (tmp_path / "docs.tsv").write_text("".join(f"d{i}\t{web[k]}\n" for i, k in enumerate(keys)))
    (tmp_path / "queries.tsv").write_text("q1\tcreation of heaven and earth\nq2\tlight and darkness\nq3\tunjudged\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d0 1\nq2 0 d2 1\nq2 0 d3 2\n")
    name = f"otclir-test/{tmp_path.name}"
    if name not in ir_datasets.registry:
        ir_datasets.registry.register(name, Dataset(
            TsvDocs(LocalDownload(tmp_path / "docs.tsv")),
            TsvQueries(LocalDownload(tmp_path / "queries.tsv")),
            TrecQrels(LocalDownload(tmp_path / "qrels.txt"), {0: "no", 1: "yes", 2: "very"}),
        ))
    return name, web[keys[0]]


def test_loads_queries_docs_and_graded_qrels(local_collection):
    name, first_text = local_collection
    task = load_ir_dataset(name)
    assert len(task.docs) == 20 and task.docs["d0"] == first_text
    assert task.queries == {"q1": "creation of heaven and earth", "q2": "light and darkness"}  # judged queries only
    assert task.qrels == {"q1": {"d0": 1}, "q2": {"d2": 1, "d3": 2}}
    assert task.meta["dataset_id"] == name
    small = load_ir_dataset(name, max_queries=1, max_docs=5, seed=3)
    assert len(small.qrels) == 1 and len(small.docs) == 5
    judged = {d for docs in small.qrels.values() for d in docs}
    assert judged <= set(small.docs)  # a smaller pool keeps every judged document
    assert small.docs == load_ir_dataset(name, max_queries=1, max_docs=5, seed=3).docs


def test_unknown_id_suggests_close_ones():
    with pytest.raises(OtclirError, match="unknown ir_datasets id 'wikiclir/swx'.*wikiclir/sw"):
        load_ir_dataset("wikiclir/swx")


def test_local_folders_register_per_language(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_COLLECTIONS", str(tmp_path))
    bible_collection(tmp_path, "verses", ["sw", "tl"], queries=8, docs=60)
    assert external.register_local_collections() == ["local/verses/sw", "local/verses/tl"]
    sw = load_ir_dataset(external.collection_id("local/verses/{language}", "sw"))
    tl = load_ir_dataset("local/verses/tl")
    assert sw.queries.keys() == tl.queries.keys() and sw.qrels == tl.qrels and sw.docs.keys() == tl.docs.keys()
    assert sw.docs != tl.docs  # the same ids, another language
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "docs.tsv").write_text("d1\ttext\n")
    with pytest.raises(OtclirError, match="lacks queries.tsv, qrels.txt"):
        external.register_local_collections()


def test_training_examples_in_mmarco_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_COLLECTIONS", str(tmp_path))
    bible_collection(tmp_path, "pairs", ["en", "sw"], split="train", queries=30, docs=200, docpairs=True)
    data = external.training_data("local/pairs/{language}", ["en", "sw"], budget=25, seed=1)
    assert len(data.pairs) == 25 and data.pairs == external.training_data("local/pairs/{language}", ["en", "sw"], 25, 1).pairs
    query, passage = data.pairs[0]
    assert query.startswith("q:") and passage.startswith("d:") and passage in data.relevant[query]
    assert data.texts["en"][query] != data.texts["sw"][query]  # one verse, two languages
    assert all(data.negatives[q] not in data.relevant[q] for q in data.negatives)
    assert len(data.texts["sw"]) <= 2 * 25 + len(data.negatives)  # only the budget's texts are read
    hard = external.training_data("local/pairs/{language}", ["en", "sw"], budget=10, seed=1, with_negatives=True)
    assert len(hard.pairs) == 10 and all(q in hard.negatives and hard.negatives[q] in hard.texts["sw"] for q, _ in hard.pairs)
    assert len(hard.texts["en"]) <= 3 * 10
    with pytest.raises(OtclirError, match="unknown ir_datasets id 'local/pairs/fr'"):
        external.training_data("local/pairs/{language}", ["en", "fr"])


def test_bitext_files_are_read_with_their_line_named(tmp_path):
    good = tmp_path / "pairs.tsv"
    good.write_text("In the beginning\tHapo mwanzo\n\nLight\tNuru\nGod\tMungu\n")
    assert read_bitext(good) == [("In the beginning", "Hapo mwanzo"), ("Light", "Nuru"), ("God", "Mungu")]
    ordered = bitext_pairs("sw", budget=2, seed=0, source=good)
    assert len(ordered) == 2 and set(ordered) <= set(read_bitext(good))
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\ttwo\nonly one field\n")
    with pytest.raises(OtclirError, match=r"bad.tsv:2: a bitext line is 'English<TAB>target'"):
        read_bitext(bad)
    with pytest.raises(OtclirError, match="no bitext file"):
        read_bitext(tmp_path / "missing.tsv")


def test_pooling_is_read_from_the_models_own_config(tmp_path):
    from otclir.models.registry import pooling_of, resolve

    assert resolve(str(tmp_path)).pooling == "mean"
    (tmp_path / "1_Pooling").mkdir()
    config = {"word_embedding_dimension": 8, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    assert resolve(str(tmp_path)).pooling == "cls"
    config.update(pooling_mode_cls_token=False, pooling_mode_max_tokens=True)
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelBuildError, match="pools by pooling_mode_max_tokens"):
        pooling_of(str(tmp_path))
    assert resolve("minilm-teacher").pooling == "mean"
