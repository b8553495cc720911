"""Dictionaries (induced from bitext; FreeDict where installed), weighted query translation, BM25."""
import gzip
import os

import pytest

from otclir.errors import MissingPackageError
from otclir.retrieval import dictionary


def _encode(number: int) -> str:
    out = ""
    while True:
        out = dictionary.B64[number % 64] + out
        number //= 64
        if not number:
            return out


@pytest.fixture
def tiny_dictd(tmp_path):
    entries = {"water": "water /w/ <n>\n\nmaji\n", "god": "God /g/ <n>\n\nMungu\n",
               "say": "say /s/ <v>\n\nsema, nena\n"}
    body, index, offset = b"", [], 0
    for word, text in entries.items():
        raw = text.encode()
        index.append(f"{word}\t{_encode(offset)}\t{_encode(len(raw))}")
        body += raw
        offset += len(raw)
    (tmp_path / "freedict-eng-swh.index").write_text("\n".join(["00databaseshort\tA\tA"] + index) + "\n")
    with gzip.open(tmp_path / "freedict-eng-swh.dict.dz", "wb") as handle:
        handle.write(body)
    return tmp_path


def test_reads_dictd_and_translates_queries(tiny_dictd, monkeypatch):
    monkeypatch.setenv("OTCLIR_DICTD", str(tiny_dictd))
    entries = dictionary.read_dictd(dictionary.find_dictionary("en", "sw"))
    assert entries == {"water": ["maji"], "god": ["Mungu"], "say": ["sema", "nena"]}
    weighted = dictionary.freedict_dictionary("en", "sw")
    assert weighted["say"] == [("sema", 1.0), ("nena", 1.0)]
    bag = dictionary.translate_query("God say water, Paul; God", weighted, stopwords=frozenset({"say"}))
    assert bag == {"mungu": 2.0, "maji": 1.0, "paul": 1.0}
    assert dictionary.translate_query("Paul", weighted, keep_untranslated=False) == {}


@pytest.mark.slow
def test_induced_dictionary_and_its_bm25_baseline_beat_no_translation():
    from otclir.data.tasks import crossref_task, subsample_documents
    from otclir.retrieval.measures import evaluate

    induced = dictionary.induced_dictionary("tl", budget=3000)
    assert induced["god"][0][0] == "dios" and induced["water"][0][0] == "tubig"
    assert all(0 < w <= 1 for translations in induced.values() for _, w in translations)
    task = subsample_documents(crossref_task("tl", "test", max_queries=80, seed=1), 500, seed=1)
    run = dictionary.bm25_dictionary_run(task, induced)
    assert all(q not in run[q] for q in task.queries)  # own translation excluded
    untranslated = dictionary.bm25_dictionary_run(task, {})  # English words matched as they are
    assert evaluate(task.qrels, run)["AP"] > 2 * evaluate(task.qrels, untranslated)["AP"]


def test_missing_dictionary_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("OTCLIR_DICTD", str(tmp_path))
    monkeypatch.setattr(dictionary, "dictd_folders", lambda: [tmp_path])
    with pytest.raises(MissingPackageError, match="apt-get install dict-freedict-eng-tgl"):
        dictionary.find_dictionary("en", "tl")


@pytest.mark.skipif(not os.path.exists("/usr/share/dictd/freedict-eng-swh.index"),
                    reason="optional extra: Debian's dict-freedict-eng-swh is not installed (apt-get install dict-freedict-eng-swh)")
def test_freedict_english_swahili_and_bm25_baseline():
    from otclir.data.tasks import crossref_task, subsample_documents
    from otclir.retrieval.measures import evaluate

    entries = dictionary.read_dictd(dictionary.find_dictionary("en", "sw"))
    assert len(entries) > 1000 and entries["water"] == ["maji"] and "Mungu" in entries["god"]
    task = subsample_documents(crossref_task("sw", "test", max_queries=60, seed=1), 400, seed=1)
    run = dictionary.bm25_dictionary_run(task, dictionary.freedict_dictionary("en", "sw"))
    assert all(q not in run[q] for q in task.queries)  # own translation excluded
    assert evaluate(task.qrels, run)["AP"] > 0.01
