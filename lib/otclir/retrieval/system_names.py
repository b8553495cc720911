"""The names of the retrieval systems the experiments compare, built and read in one place.

A distilled student is ``distill-<objective>@<budget>`` (``distill-ot+contrastive@500``; the
budget ``all`` for every training pair); the dictionary baseline ``bm25-dictionary@<budget>``;
the fixed systems have the names below. Run files are ``<system>.<scorer>.run``.
"""
from __future__ import annotations

from dataclasses import dataclass

from otclir.transport.objectives import transports as objective_transports

ZERO_SHOT = "student-zero-shot"
MINILM_ON_TARGET = "minilm-on-target"
CEILING = "ceiling-teacher-on-english"
ORACLE = "oracle-translate-test"
DISTILLED = "distill"  # the family of distilled students, as a system list names it
BM25_DICTIONARY = "bm25-dictionary"
BM25_FREEDICT = "bm25-freedict"
BM25_ENGLISH = "bm25-english"  # English queries against the English text of the documents: the lexical reference
RRF_DICTIONARY = "rrf-dictionary"  # reciprocal-rank fusion of bm25-dictionary@<budget> with the zero-shot student
UPPER_BOUNDS = (CEILING, ORACLE, BM25_ENGLISH)  # they read each document's English text
SYSTEMS = (
    ZERO_SHOT,         # e5 queries and documents: its own multilingual space
    MINILM_ON_TARGET,  # the English retriever on target-language text, no transfer
    DISTILLED,         # one student per objective and budget
    BM25_DICTIONARY,   # BM25, queries translated by a dictionary induced from the same bitext
    BM25_FREEDICT,     # BM25, queries translated by FreeDict (Debian; optional)
    RRF_DICTIONARY,    # the dictionary's BM25 and the zero-shot student, fused by reciprocal rank
    CEILING,           # the students' query encoder on the English text of each document
    ORACLE,            # MiniLM on the English text of each document
    BM25_ENGLISH,      # BM25 of the English queries on the English text of each document
)
DEFAULT_SYSTEMS = tuple(s for s in SYSTEMS if s != BM25_FREEDICT)
SEED_MARK = ".seed"  # a run file of a student trained with one seed: <system>.seed<n>.<scorer>.run
SCORERS = ("mean", "maxsim")
BASELINE_SCORER = "bm25"  # lexical runs have no scorer of their own and join every scorer's table
_BUDGETED = {DISTILLED: "distill-", BM25_DICTIONARY: f"{BM25_DICTIONARY}@", RRF_DICTIONARY: f"{RRF_DICTIONARY}@"}


def budget_tag(budget: int | None) -> str:
    """A budget as system names spell it: ``2000``, or ``all``."""
    return "all" if budget is None else str(budget)


def distilled_name(objective: str, budget: int | None) -> str:
    return f"distill-{objective}@{budget_tag(budget)}"


def dictionary_name(budget: int | None) -> str:
    return f"{BM25_DICTIONARY}@{budget_tag(budget)}"


def fusion_name(budget: int | None) -> str:
    return f"{RRF_DICTIONARY}@{budget_tag(budget)}"


def seeded_name(system: str, seed: int) -> str:
    return f"{system}{SEED_MARK}{seed}"


def split_seed(name: str) -> tuple[str, int | None]:
    """(system, training seed) of a run's name; the seed is None for a system trained once or never."""
    system, mark, seed = name.rpartition(SEED_MARK)
    return (system, int(seed)) if mark and seed.isdigit() else (name, None)


@dataclass(frozen=True)
class SystemName:
    """A system name read back: its family (``distill``, ``bm25-dictionary`` or the name itself),
    and for a distilled student its objective and budget tag."""

    name: str
    family: str
    objective: str | None = None
    budget: str | None = None

    @property
    def distilled(self) -> bool:
        return self.family == DISTILLED

    @property
    def transports(self) -> bool:
        """A distilled student whose objective has the transport term."""
        return self.distilled and objective_transports(self.objective)


def parse(name: str) -> SystemName:
    if name.startswith(_BUDGETED[DISTILLED]) and "@" in name:
        objective, _, budget = name.removeprefix(_BUDGETED[DISTILLED]).rpartition("@")
        return SystemName(name, DISTILLED, objective, budget)
    for family in (BM25_DICTIONARY, RRF_DICTIONARY):
        if name.startswith(_BUDGETED[family]):
            return SystemName(name, family, budget=name.removeprefix(_BUDGETED[family]))
    return SystemName(name, name)


def is_distilled(name: str) -> bool:
    return parse(name).distilled


def transports(name: str) -> bool:
    """Whether a system is an OT student (a distilled student whose objective transports)."""
    return parse(name).transports
