"""The licence rule, checked: no committed file and no stored notebook output may hold verse text
of a copyrighted (or unknown-licence) translation.

Texts are compared as overlapping runs of ``n`` tokens (words; single characters for Chinese and
Japanese script), so a quoted verse is found inside any surrounding text. Each run is hashed from
its tokens' codes with numpy, whole versions at a time.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np

from otclir.data.bible import read_version, verse_id
from otclir.data.languages import redistributable_versions, restricted_versions
from otclir.paths import project_root

TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]|\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_WORD = re.compile(r"\w+")  # TOKEN for texts without Chinese or Japanese script, found faster
SHINGLE = 8
MIN_TOKENS = 5  # verses shorter than a shingle count as one run when at least this long
BINARY_SUFFIXES = {".png", ".pdf", ".jpg", ".jpeg", ".gif", ".zip", ".bin", ".safetensors", ".db"}
VERSE_END = "qzqverseendqzq"  # joins a version's verses into one text; no Bible holds this word
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: its powers weigh each position of a run apart


def tokens(text: str) -> list[str]:
    return (TOKEN if _CJK.search(text) else _WORD).findall(text.lower())


def token_codes(toks: list[str]) -> np.ndarray:
    """A 64-bit code per token (Python's string hash: the same within one process, which is where
    an index and the texts it checks meet)."""
    return np.fromiter(map(hash, toks), dtype=np.int64, count=len(toks)).view(np.uint64)


def run_hashes(codes: np.ndarray, k: int) -> np.ndarray:
    """The hash of every run of ``k`` consecutive codes (one per start), position- and
    length-aware: the same run of tokens gives the same hash wherever it stands."""
    starts = len(codes) - k + 1
    if starts <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.full(starts, k, dtype=np.uint64)
    weight = np.uint64(1)
    with np.errstate(over="ignore"):
        for j in range(k):
            weight = weight * _BASE
            out += codes[j:j + starts] * weight
    return out


def all_in_runs(inside: np.ndarray, k: int) -> np.ndarray:
    """For each start, whether all ``k`` positions of the run there are ``inside``."""
    if len(inside) < k:
        return np.zeros(0, dtype=bool)
    counts = np.concatenate([[0], np.cumsum(inside, dtype=np.int64)])
    return counts[k:] - counts[:-k] == k


class RestrictedIndex:
    """Hashes of every run of tokens in the restricted versions that no redistributable version
    also contains (KJ2000 shares most runs with the public-domain KJV), and where each came from:
    every run of ``n`` tokens inside a verse, and each verse of MIN_TOKENS to n - 1 tokens whole."""

    def __init__(self, versions: list[str] | None = None, n: int = SHINGLE):
        self.n = n
        self.versions = versions or restricted_versions()
        self.labels: list[str] = []
        hashes, origins, vocabulary, short = [], [], [], []
        for version in self.versions:
            verses = read_version(version)
            found, verse_of, codes, short_codes = self._version_runs(list(verses.values()))
            hashes.append(found)
            origins.append(verse_of + len(self.labels))
            vocabulary.append(codes)
            short.append(short_codes)
            self.labels += [f"{version}:{verse_id(key)}" for key in verses]
        free = np.sort(np.concatenate([self._version_runs(list(read_version(v).values()))[0]
                                       for v in redistributable_versions()] or
                                      [np.empty(0, dtype=np.uint64)]))
        hashes, origins = np.concatenate(hashes), np.concatenate(origins)
        order = np.argsort(hashes, kind="stable")  # sorted, the lookups in ``free`` run in order
        hashes, origins = hashes[order], origins[order]
        keep = ~_members(hashes, free)
        self.hashes, self.origins = hashes[keep], origins[keep]
        self.vocabulary = np.unique(np.concatenate(vocabulary))
        self.short_vocabulary = np.unique(np.concatenate(short))

    def _version_runs(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A version's run hashes (``texts``: its verses) with the verse (its position in ``texts``)
        of each, its token codes, and the codes of the tokens of its short verses (indexed whole)."""
        codes = token_codes(tokens(f" {VERSE_END} ".join(texts) + f" {VERSE_END}"))
        words = codes != token_codes([VERSE_END])[0]
        ends = np.flatnonzero(~words)  # one per verse, after its tokens
        lengths = np.diff(np.concatenate([[-1], ends])) - 1
        starts = ends - lengths
        verse = np.repeat(np.arange(len(ends)), lengths + 1)  # each token's verse
        full = run_hashes(codes, self.n)
        whole = np.flatnonzero(all_in_runs(words, self.n))
        found, verse_of = [full[whole]], [verse[whole]]
        is_short = (lengths >= MIN_TOKENS) & (lengths < self.n)
        for k in range(MIN_TOKENS, self.n):
            at = starts[lengths == k]
            found.append(run_hashes(codes, k)[at])
            verse_of.append(verse[at])
        return np.concatenate(found), np.concatenate(verse_of), codes[words], codes[is_short[verse] & words]

    def matches(self, text: str) -> list[str]:
        """Version and verse ids (never the text) of restricted verses that ``text`` quotes: every
        run of n tokens, and every shorter run (at least MIN_TOKENS) of tokens all from the short
        verses, looked up in the index (a run with a token outside the restricted versions cannot
        match, so those are passed over)."""
        codes = token_codes(tokens(text))
        if self.hashes.size == 0 or len(codes) < MIN_TOKENS:
            return []
        known = _members(codes, self.vocabulary)
        found = [run_hashes(codes, self.n)[all_in_runs(known, self.n)]]
        short = known & _members(codes, self.short_vocabulary)
        found += [run_hashes(codes, k)[all_in_runs(short, k)] for k in range(MIN_TOKENS, self.n)]
        found = np.unique(np.concatenate(found))
        pos = np.searchsorted(self.hashes, found).clip(max=self.hashes.size - 1)
        hit = self.hashes[pos] == found
        return sorted({self.labels[i] for i in self.origins[pos[hit]]})


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_set`` (sorted, unique or not)."""
    if sorted_set.size == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_set, values).clip(max=sorted_set.size - 1)
    return sorted_set[pos] == values


def file_text(path: Path) -> str | None:
    """Searchable text of a file: every string of a notebook (sources and outputs), else the file itself."""
    if path.suffix.lower() in BINARY_SUFFIXES:
        return None
    try:
        if path.suffix.lower() == ".gz":  # compressed results are scanned as the text they hold
            import gzip

            raw = gzip.decompress(path.read_bytes()).decode("utf-8")
        else:
            raw = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError, EOFError):
        return None
    if path.suffix == ".ipynb":
        strings: list[str] = []

        def walk(node):
            if isinstance(node, str):
                strings.append(node)
            elif isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)

        walk(json.loads(raw))
        return "\n".join(strings)
    return raw


def committed_files(root: Path | None = None) -> list[Path]:
    """Tracked files and untracked ones git would add (what a commit could carry)."""
    root = root or project_root()
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=root, capture_output=True, check=True).stdout.decode()
    return [root / p for p in out.split("\0") if p and (root / p).is_file()]


def scan(paths, index: RestrictedIndex | None = None) -> dict[str, list[str]]:
    """Files quoting restricted verse text, with the verse ids they quote."""
    index = index or RestrictedIndex()
    offending = {}
    for path in paths:
        text = file_text(Path(path))
        if text:
            hits = index.matches(text)
            if hits:
                offending[str(path)] = hits
    return offending
