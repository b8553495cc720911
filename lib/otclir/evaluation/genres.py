"""The cross-reference task's test queries by the genre of the book they come from, read apart: do
gains hold in letters and in prophecy alike? The test split is Romans to Revelation (KJV books
45-66): Paul's letters and Hebrews (45-58), the general letters (59-65) and Revelation (66), the
one prophetic book. It holds no narrative book (the gospels and Acts are the dev split), so a
narrative reading needs another split."""
from __future__ import annotations

import pandas as pd

from otclir.errors import OtclirError

GENRES = {"Pauline letters and Hebrews": range(45, 59), "general letters": range(59, 66), "prophecy": range(66, 67)}


def genre_of_book(book: int) -> str:
    """A test book's genre.

    >>> genre_of_book(45), genre_of_book(62), genre_of_book(66)
    ('Pauline letters and Hebrews', 'general letters', 'prophecy')
    """
    for genre, books in GENRES.items():
        if book in books:
            return genre
    raise OtclirError(f"book {book} is not in the test split (45-66); genres are read on test queries only")


def scores_by_genre(per_query: pd.DataFrame, measure: str = "AP", scorer: str = "mean") -> pd.DataFrame:
    """Mean ``measure`` of the cross-reference queries per language, system and genre (each query
    first averaged over the system's training seeds), with ``all`` beside them; ``attrs["queries"]``
    counts the queries of each genre."""
    from otclir.data.bible import parse_verse_id

    if "task" not in per_query or "query" not in per_query:
        raise OtclirError("the per-query table needs task and query columns; give notebook 03's per-query rows")
    rows = per_query[(per_query.task == "crossref") & ((per_query.scorer == scorer)
                                                        | per_query.system.str.startswith(("bm25", "rrf")))]
    if rows.empty:
        raise OtclirError(f"no cross-reference rows scored by {scorer}; genres are read on the cross-reference task")
    queries = rows.groupby(["language", "system", "query"], sort=False)[measure].mean().reset_index()
    queries["genre"] = [genre_of_book(parse_verse_id(q)[0]) for q in queries["query"]]
    table = queries.pivot_table(index=["language", "system"], columns="genre", values=measure, aggfunc="mean",
                                sort=False).reindex(columns=list(GENRES))
    table["all"] = queries.groupby(["language", "system"], sort=False)[measure].mean()
    table.attrs["queries"] = queries.drop_duplicates("query").genre.value_counts().to_dict()
    return table
