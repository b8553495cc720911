"""The topical task's queries by kind: topics that name a person or place ("onesimus") and topics
that name a concept ("hospitality"), read apart and together. A name is matched by its spelling in
any language that keeps it, a concept only through meaning, so the two can tell different stories
about cross-lingual transfer."""
from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from otclir.errors import OtclirError

KINDS = ("name", "concept", "all")


def topic_kinds() -> dict[str, str]:
    """Every topic of Nave's module, by the query id the topical task gives it, with its kind (it
    depends on the topic alone, so it holds for every language, split and pool)."""
    from otclir.data import naves

    return {"nave-" + re.sub(r"[^a-z0-9]+", "-", topic.key.lower()).strip("-"):
            "name" if naves.is_name(topic.query) else "concept" for topic in naves.topics()[0]}


def scores_by_kind(per_query: Mapping[str, pd.DataFrame] | pd.DataFrame, kinds: Mapping[str, str],
                   measure: str = "AP", scorer: str = "mean", systems: list[str] | None = None) -> pd.DataFrame:
    """Mean ``measure`` on the topical task per language and system over name topics, concept topics
    and all of them (rows: language and system; columns: kind), each query first averaged over the
    system's training seeds. Lexical systems, scored once, are read under their own scorer."""
    frame = pd.concat(per_query.values(), ignore_index=True) if isinstance(per_query, Mapping) else per_query
    if "task" not in frame:
        raise OtclirError("the per-query table has no task column; the topical task's rows cannot be told apart")
    rows = frame[(frame.task == "topical") & ((frame.scorer == scorer) | frame.system.str.startswith(("bm25", "rrf")))]
    if systems is not None:
        rows = rows[rows.system.isin(systems)]
    if rows.empty:
        return pd.DataFrame(columns=list(KINDS))
    missing = sorted(set(rows["query"]) - set(kinds))
    if missing:
        raise OtclirError(f"{len(missing)} topical queries have no kind (e.g. {missing[0]}); the kinds come from "
                          "another split or another reading of Nave's module")
    queries = rows.groupby(["language", "system", "query"], sort=False)[measure].mean().reset_index()
    queries["kind"] = queries["query"].map(kinds)
    by_kind = queries.pivot_table(index=["language", "system"], columns="kind", values=measure, aggfunc="mean", sort=False)
    by_kind["all"] = queries.groupby(["language", "system"], sort=False)[measure].mean()
    by_kind = by_kind.reindex(columns=list(KINDS))
    by_kind.attrs["queries"] = queries.drop_duplicates("query").kind.value_counts().to_dict()
    return by_kind


def kind_lines(table: pd.DataFrame, treatment: str, baseline: str) -> list[str]:
    """The queries of each kind, then per language the baseline's score on names and on concepts and
    what ``treatment`` adds to each (``table``: :func:`scores_by_kind`'s)."""
    counts = table.attrs.get("queries", {})
    lines = [f"{int(counts.get('name', 0))} name topics and {int(counts.get('concept', 0))} concept topics"]
    for language in table.index.get_level_values("language").unique():
        part = table.xs(language, level="language")
        if treatment not in part.index or baseline not in part.index:
            continue
        base, gain = part.loc[baseline], (part.loc[treatment] - part.loc[baseline]).round(4) + 0.0  # no "-0.0000"
        lines.append(f"{language}: {baseline} {base['name']:.4f} on names, {base['concept']:.4f} on concepts; "
                     f"{treatment} {gain['name']:+.4f} on names, {gain['concept']:+.4f} on concepts")
    return lines
