"""Bilingual dictionaries and BM25 with dictionary query translation.

Two sources of a dictionary, both giving each English word its target-language translations
with weights:

- ``induced_dictionary``: learnt from the train-split bitext that the students see, by the
  statistical word aligner of :mod:`otclir.transport.statistical_alignment` (fast_align's diagonal prior
  over IBM Model 1; weights are translation probabilities). Every language has one, and it
  needs nothing beyond the data packages.
- FreeDict, from Debian (optional): ``apt-get install dict-freedict-eng-swh`` puts the
  English-Swahili one in ``/usr/share/dictd``; ``OTCLIR_DICTD`` names another folder.

Queries are translated word by word into a weighted bag of target words (probabilistic
structured queries, Darwish and Oard 2003): a target word's weight is the sum of its
translation weights over the query's words. English stopwords are dropped first.
"""
from __future__ import annotations

import gzip
import os
import re
from functools import lru_cache
from pathlib import Path

from otclir.errors import MissingPackageError, OtclirError

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ISO3 = {"en": "eng", "sw": "swh", "tl": "tgl", "ny": "nya", "fa": "fas", "fr": "fra", "de": "deu", "es": "spa",
        "ru": "rus", "ar": "ara", "hi": "hin", "id": "ind", "vi": "vie"}
WORD = re.compile(r"\w+", re.UNICODE)

Dictionary = dict[str, list[tuple[str, float]]]  # source word -> [(translation, weight)]


def words(text: str) -> list[str]:
    """Lower-cased word tokens, the unit of dictionaries and BM25 here."""
    return WORD.findall(text.lower())


def english_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# ------------------------------------------------------------------ induced from bitext

@lru_cache(maxsize=16)
def induced_dictionary(language: str, query_language: str = "en", budget: int | None = None, seed: int = 0,
                       top: int = 3, min_prob: float = 0.05, diagonal_tension: float = 4.0,
                       iterations: int = 5, bitext: str | None = None) -> Dictionary:
    """Translations of ``query_language`` words into ``language``, learnt on the first ``budget``
    train-split pairs in the seeded order the students use (all pairs when ``budget`` is None), or
    on the pairs of a ``bitext`` TSV file."""
    from otclir.data.tasks import bitext_pairs
    from otclir.transport import statistical_alignment

    pairs = bitext_pairs(language, query_language, "train", budget, seed, bitext)
    model = statistical_alignment.train([(words(e), words(t)) for e, t in pairs], iterations, diagonal_tension)
    return model.table(top, min_prob)


# ------------------------------------------------------------------ FreeDict (dictd files)

def _decode(number: str) -> int:
    value = 0
    for ch in number:
        value = value * 64 + B64.index(ch)
    return value


def dictd_folders() -> list[Path]:
    extra = os.environ.get("OTCLIR_DICTD")
    return ([Path(extra)] if extra else []) + [Path("/usr/share/dictd")]


def find_dictionary(source: str, target: str) -> Path:
    """Index file of the FreeDict dictionary from ``source`` to ``target`` (ISO 639-1 codes)."""
    pair = f"freedict-{ISO3.get(source, source)}-{ISO3.get(target, target)}"
    for folder in dictd_folders():
        index = folder / f"{pair}.index"
        if index.is_file():
            return index
    package = f"dict-{pair}"
    raise MissingPackageError(f"no {source}-{target} dictionary ({pair}.index); install it with "
                              f"`apt-get install {package}` (Debian) or set OTCLIR_DICTD to a folder holding it")


@lru_cache(maxsize=4)
def read_dictd(index_path: Path | str) -> dict[str, list[str]]:
    """Headword (lower case) to its translations, from a dictd ``.index`` and ``.dict.dz`` pair."""
    index_path = Path(index_path)
    data_path = index_path.with_suffix(".dict.dz")
    if not data_path.is_file():
        data_path = index_path.with_suffix(".dict")
    raw = gzip.open(data_path).read() if data_path.suffix == ".dz" else data_path.read_bytes()
    entries: dict[str, list[str]] = {}
    for lineno, line in enumerate(index_path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) != 3:
            raise OtclirError(f"{index_path}:{lineno}: a dictd index line has 3 tab-separated fields")
        word, offset, length = fields
        if word.startswith("00database") or word.startswith("00-database"):
            continue
        body = raw[_decode(offset):_decode(offset) + _decode(length)].decode("utf-8")
        _, _, senses = body.partition("\n\n")
        translations = [t.strip() for part in senses.splitlines() for t in re.split(r"[,;]", re.sub(r"^\d+\.\s*", "", part))]
        entries.setdefault(word.lower(), []).extend(t for t in translations if t)
    return entries


def freedict_dictionary(source: str, target: str) -> Dictionary:
    """FreeDict's translations as a weighted dictionary: every word of every translation weighs 1."""
    return {word: [(w, 1.0) for t in translations for w in words(t)]
            for word, translations in read_dictd(find_dictionary(source, target)).items()}


# ------------------------------------------------------------------ query translation and BM25

def translate_query(text: str, dictionary: Dictionary, keep_untranslated: bool = True,
                    stopwords: frozenset[str] = frozenset()) -> dict[str, float]:
    """Weighted bag of target words: each query word's translations with their weights, summed;
    words the dictionary lacks (names, mostly) are kept with weight 1 unless ``keep_untranslated``
    is off; ``stopwords`` are dropped first."""
    bag: dict[str, float] = {}
    for word in words(text):
        if word in stopwords:
            continue
        if word in dictionary:
            for translation, weight in dictionary[word]:
                bag[translation] = bag.get(translation, 0.0) + weight
        elif keep_untranslated:
            bag[word] = bag.get(word, 0.0) + 1.0
    return bag


def bm25_dictionary_run(task, dictionary: Dictionary, k: int = 1000) -> dict[str, dict[str, float]]:
    """BM25 (bm25s, default parameters) over the task's documents with weighted translated queries:
    a document's score is the weighted sum of its BM25 term scores."""
    try:
        import bm25s
    except ImportError:
        raise MissingPackageError("bm25s is not installed; install it with `pip install bm25s==0.3.16`") from None
    import numpy as np

    doc_ids = list(task.docs)
    position = {d: i for i, d in enumerate(doc_ids)}
    retriever = bm25s.BM25()
    retriever.index([words(task.docs[d]) for d in doc_ids], show_progress=False)
    stop = english_stopwords()
    run = {}
    for qid, text in task.queries.items():
        bag = {t: w for t, w in translate_query(text, dictionary, stopwords=stop).items() if t in retriever.vocab_dict}
        scores = np.zeros(len(doc_ids))
        for term in sorted(bag):
            scores += bag[term] * retriever.get_scores([term])
        for doc in task.exclude.get(qid, ()):
            if doc in position:
                scores[position[doc]] = -np.inf
        order = np.lexsort((np.arange(len(doc_ids)), -scores))[:k]  # ties by document order
        run[qid] = {doc_ids[i]: float(scores[i]) for i in order if scores[i] > 0}
    return run
