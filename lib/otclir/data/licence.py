"""The licence rule, checked: no committed file and no stored notebook output may hold verse text
of a copyrighted (or unknown-licence) translation.

Texts are compared as overlapping runs of ``n`` tokens (words; single characters for Chinese and
Japanese script), so a quoted verse is found inside any surrounding text.
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
SHINGLE = 8
MIN_TOKENS = 5  # verses shorter than a shingle count as one run when at least this long
BINARY_SUFFIXES = {".png", ".pdf", ".jpg", ".jpeg", ".gif", ".zip", ".bin", ".safetensors", ".db"}


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def shingles(text: str, n: int = SHINGLE, toks: list[str] | None = None) -> list[int]:
    """Hashes of every run of n tokens of ``text`` (``toks``: its tokens, when already read); a
    verse shorter than that is one run, when it has at least MIN_TOKENS."""
    toks = tokens(text) if toks is None else toks
    if len(toks) < n:
        return [hash(" ".join(toks))] if len(toks) >= MIN_TOKENS else []
    return [hash(" ".join(toks[i:i + n])) for i in range(len(toks) - n + 1)]


def window_hashes(text: str, short_vocabulary: set[str], n: int = SHINGLE) -> list[int]:
    """The runs of a scanned text that an index can hold: every run of n tokens, and the runs of
    MIN_TOKENS to n - 1 tokens that could be a short verse indexed whole (anywhere inside a longer
    text): only where all their tokens are in ``short_vocabulary`` (the short verses' tokens), as a
    run with any other token cannot equal a short verse."""
    toks = tokens(text)
    found = [hash(" ".join(toks[i:i + n])) for i in range(len(toks) - n + 1)]
    spans, start = [], 0
    for i, tok in enumerate(toks + [None]):
        if tok is None or tok not in short_vocabulary:
            if i - start >= MIN_TOKENS:
                spans.append(toks[start:i])
            start = i + 1
    found += [hash(" ".join(span[i:i + k])) for span in spans
              for k in range(MIN_TOKENS, n) for i in range(len(span) - k + 1)]
    return found


class RestrictedIndex:
    """Hashes of every run of tokens in the restricted versions that no redistributable version
    also contains (KJ2000 shares most runs with the public-domain KJV), and where each came from."""

    def __init__(self, versions: list[str] | None = None, n: int = SHINGLE):
        self.n = n
        self.versions = versions or restricted_versions()
        hashes, origins, self.short_vocabulary, self.vocabulary = [], [], set(), set()
        for version in self.versions:
            for key, text in read_version(version).items():
                toks = tokens(text)
                found = shingles(text, n, toks)
                hashes.extend(found)
                origins.extend([f"{version}:{verse_id(key)}"] * len(found))
                self.vocabulary.update(toks)
                if MIN_TOKENS <= len(toks) < n:  # a short verse, indexed whole
                    self.short_vocabulary.update(toks)
        free = np.unique(np.asarray(
            [h for v in redistributable_versions() for t in read_version(v).values() for h in shingles(t, n)],
            dtype=np.int64))
        hashes = np.asarray(hashes, dtype=np.int64)
        keep = np.flatnonzero(~np.isin(hashes, free))
        order = keep[np.argsort(hashes[keep], kind="stable")]
        self.hashes = hashes[order]
        self.origins = [origins[i] for i in order]

    def spans(self, text: str) -> list[str]:
        """The stretches of ``text`` that could quote a restricted verse: runs of at least
        MIN_TOKENS tokens that all occur in the restricted versions (a run holding any other token
        matches nothing in the index), so numbers, ids and markup are passed over cheaply."""
        found, run = [], []
        for tok in tokens(text) + [None]:
            if tok is not None and tok in self.vocabulary:
                run.append(tok)
                continue
            if len(run) >= MIN_TOKENS:
                found.append(" ".join(run))
            run = []
        return found

    def matches(self, text: str) -> list[str]:
        """Version and verse ids (never the text) of restricted verses that ``text`` quotes."""
        found = np.unique(np.asarray([h for span in self.spans(text) for h in window_hashes(span, self.short_vocabulary, self.n)],
                                     dtype=np.int64))
        if found.size == 0 or self.hashes.size == 0:
            return []
        pos = np.searchsorted(self.hashes, found).clip(max=self.hashes.size - 1)
        return sorted({self.origins[i] for i in pos[self.hashes[pos] == found]})


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
