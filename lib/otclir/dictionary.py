"""Bilingual dictionaries in dictd format (FreeDict, from Debian), and dictionary query translation.

Install the English-Swahili one with ``apt-get install dict-freedict-eng-swh``; it lands in
``/usr/share/dictd``. Other folders can be given with ``OTCLIR_DICTD``.
"""
from __future__ import annotations

import gzip
import os
import re
from functools import lru_cache
from pathlib import Path

from .errors import MissingPackageError, OtclirError

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ISO3 = {"en": "eng", "sw": "swh", "tl": "tgl", "ny": "nya", "fa": "fas", "fr": "fra", "de": "deu", "es": "spa",
        "ru": "rus", "ar": "ara", "hi": "hin", "id": "ind", "vi": "vie"}
WORD = re.compile(r"\w+", re.UNICODE)


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


def translate_query(text: str, dictionary: dict[str, list[str]], keep_untranslated: bool = True) -> list[str]:
    """Bag of target-language tokens: every translation of every query word found in the dictionary;
    words it lacks (names, mostly) are kept as they are unless ``keep_untranslated`` is off."""
    out: list[str] = []
    for word in WORD.findall(text.lower()):
        if word in dictionary:
            for translation in dictionary[word]:
                out.extend(WORD.findall(translation.lower()))
        elif keep_untranslated:
            out.append(word)
    return out


def bm25_dictionary_run(task, dictionary: dict[str, list[str]], k: int = 1000) -> dict[str, dict[str, float]]:
    """BM25 (bm25s) over the task's documents with dictionary-translated queries."""
    try:
        import bm25s
    except ImportError:
        raise MissingPackageError("bm25s is not installed; install it with `pip install bm25s==0.3.16`") from None
    doc_ids = list(task.docs)
    corpus = [WORD.findall(task.docs[d].lower()) for d in doc_ids]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    run = {}
    for qid, text in task.queries.items():
        tokens = [t for t in translate_query(text, dictionary) if t in retriever.vocab_dict]
        if not tokens:
            run[qid] = {}
            continue
        scores = retriever.get_scores(tokens)
        for doc in task.exclude.get(qid, ()):
            if doc in task.docs:
                scores[doc_ids.index(doc)] = float("-inf")
        order = scores.argsort()[::-1][:k]
        run[qid] = {doc_ids[i]: float(scores[i]) for i in order if scores[i] > float("-inf") and scores[i] > 0}
    return run
