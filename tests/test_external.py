"""The ir_datasets loader on a small local collection registered through ir_datasets' own API."""
import pytest

from otclir.data.external import load_ir_dataset
from otclir.errors import OtclirError


@pytest.fixture
def local_collection(tmp_path, web):
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    keys = sorted(web)[:20]
    (tmp_path / "docs.tsv").write_text("".join(f"d{i}\t{web[k]}\n" for i, k in enumerate(keys)))
    (tmp_path / "queries.tsv").write_text("q1\tcreation of heaven and earth\nq2\tlight and darkness\n")
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
    assert task.queries == {"q1": "creation of heaven and earth", "q2": "light and darkness"}
    assert task.qrels == {"q1": {"d0": 1}, "q2": {"d2": 1, "d3": 2}}
    assert task.meta["dataset_id"] == name
    small = load_ir_dataset(name, max_queries=1, max_docs=5)
    assert list(small.qrels) == ["q1"] and len(small.docs) == 5


def test_unknown_id_suggests_close_ones():
    with pytest.raises(OtclirError, match="unknown ir_datasets id 'wikiclir/swx'.*wikiclir/sw"):
        load_ir_dataset("wikiclir/swx")
