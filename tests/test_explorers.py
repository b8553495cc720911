"""The JupyterLab explorers as functions: a verse's plan at any layer and epsilon (gold links for
the Greek verses, positions for restricted text), a query's top results across systems with
relevance marks, queries chosen by rule, and controls that redraw."""
import numpy as np
import pandas as pd
import pytest

from otclir.plots import explorers

MODEL = "e5-small-student"


def entropy(plan):
    p = np.asarray(plan, dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def test_a_verse_plan_follows_epsilon_and_cost_and_keeps_public_domain_text_only():
    sharp = explorers.verse_plan(MODEL, "43003016", "tl", 8, 0.02)
    blurred = explorers.verse_plan(MODEL, "43003016", "tl", 8, 1.0)
    assert sharp.plan.shape == (len(sharp.rows), len(sharp.cols)) == tuple(sharp.cost.shape)
    assert entropy(sharp.plan) < entropy(blurred.plan)  # a larger epsilon spreads the plan
    scaled = explorers.verse_plan(MODEL, "43003016", "tl", 8, 0.02, cost="scaled")
    assert np.allclose(scaled.cost, sharp.cost) and not np.allclose(scaled.plan, sharp.plan)
    assert any(piece.strip("\u2581").isalpha() for piece in sharp.cols)  # Tagalog 1905 is public domain
    restricted = explorers.verse_plan(MODEL, "43003016", "sw", 8, 0.05)  # the Swahili version is not
    assert restricted.cols == [f"#{i}" for i in range(1, len(restricted.cols) + 1)]
    with pytest.raises(ValueError, match="unknown cost 'log'"):
        explorers.verse_plan(MODEL, "43003016", "tl", 8, 0.05, cost="log")


def test_a_greek_verse_shows_its_gold_links_and_the_plan_finds_them():
    plan = explorers.verse_plan(MODEL, "43001001", "grc", 8, 0.05)
    assert plan.gold and all(r < len(plan.rows) and c < len(plan.cols) for r, c in plan.gold)
    uniform_share = len(plan.gold) / (len(plan.rows) * len(plan.cols))
    assert explorers.plan_mass(plan) > 2 * uniform_share  # the plan puts its mass on gold links
    with pytest.raises(ValueError, match="has no gold alignment"):
        explorers.verse_plan(MODEL, "01001001", "grc", 8, 0.05)
    figure = explorers.alignment_figure(MODEL, "43001001", "grc", 8, 0.05)
    assert len(figure.axes) >= 2 and "gold links" in figure._suptitle.get_text()


def test_top_results_mark_relevant_documents_per_system():
    runs = {"bm25": {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}},
            "student": {"q1": {"d3": 0.9, "d4": 0.8, "d1": 0.1}}}
    qrels = {"q1": {"d1": 1, "d3": 1, "d9": 0}}
    table = explorers.top_results(runs, qrels, "q1", depth=2, labels={"d1": "Rom 1:1"})
    assert table["bm25"].tolist() == ["✓ Rom 1:1", "d2", "1 of 2 relevant"]
    assert table["student"].tolist() == ["✓ d3", "d4", "1 of 2 relevant"]
    with pytest.raises(ValueError, match="query q2 is not in the run of bm25"):
        explorers.top_results(runs, qrels, "q2")


def test_queries_are_chosen_by_rule_and_verses_labelled_without_restricted_text():
    differences = pd.Series([0.3, -0.3, 0.0], index=["a", "b", "c"])
    assert explorers.chosen_queries(differences) == {"largest gain": "a", "largest loss": "b", "median": "c"}
    tagalog = explorers.verse_labels(["43003016"], "tl")["43003016"]
    assert tagalog.startswith("John 3:16 ") and len(tagalog) > len("John 3:16 ")  # public domain: with its text
    assert explorers.verse_labels(["43003016"], "sw") == {"43003016": "John 3:16"}  # restricted: reference only


def test_archived_runs_are_read_by_system(tmp_path):
    import gzip

    from otclir.data import trec

    plain = trec.write_run(tmp_path / "plain.txt", {"q1": {"d1": 2.0, "d2": 1.0}}, tag="bm25")
    (tmp_path / "bm25.bm25.run.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert explorers.archived_runs(tmp_path) == {"bm25.bm25": {"q1": {"d1": 2.0, "d2": 1.0}}}


def test_the_controls_redraw_with_their_new_values():
    import ipywidgets as widgets

    drawn = []
    slider = widgets.IntSlider(value=1, min=0, max=5)

    def draw(k):
        drawn.append(k)
        return pd.DataFrame({"k": [k]})

    explorers.explore(draw, {"k": slider})
    slider.value = 4
    assert drawn == [1, 4]
    box = explorers.alignment_explorer(MODEL, ["01001001", "43001001"], ["tl", "grc"], [8, None], [0.5, 0.05],
                                       epsilon=0.05)
    verse, language, layer, epsilon, cost = box.children
    assert (verse.value, language.value, layer.value, epsilon.value, cost.value) == ("01001001", "tl", 8, 0.05, "raw")
    language.value = "grc"  # Genesis has no gold alignment: the view says so instead of failing
    layer.value = None


def test_the_ranking_explorer_searches_queries_by_text_and_shows_the_students_first():
    runs = {"sw": {"bm25": {"q1": {"d1": 1.0}}, "ceiling": {"q1": {"d1": 1.0}},
                   "distill-ot@2000.maxsim": {"q1": {"d2": 1.0, "d1": 0.5}}, "student-zero-shot.maxsim": {"q1": {"d1": 0.9}}},
            "tl": {"distill-ot@2000.maxsim": {"q1": {"d1": 0.7}}}}
    box = explorers.ranking_explorer(runs, {"q1": {"d1": 1}, "q2": {"d3": 1}}, ["q1", "q2"],
                                     query_labels={"q1": "John 3:16 For God so loved", "q2": "Rom 3:23 all have sinned"})
    query, language, systems = box.children
    assert set(query.options) == {"q1  John 3:16 For God so loved", "q2  Rom 3:23 all have sinned"}
    assert query.ensure_option and query.value.startswith("q1")  # typing "sinned" narrows the list to q2
    assert systems.value == ("distill-ot@2000.maxsim", "student-zero-shot.maxsim")
    assert list(language.options) == ["sw", "tl"]
    query.value = "q2  Rom 3:23 all have sinned"  # redraws without error
