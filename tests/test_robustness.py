"""Evaluation settings, language bias, robustness summaries and the ablation grid runner."""
import json

import numpy as np
import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.evaluation.robustness import per_language, robustness_summary
from otclir.evaluation.retrieval_settings import (ParallelPool, evaluate_settings, full_pool_measures, language_bias, pair_tier,
                                       parallel_pool)
from otclir.experiments.ablation import AblationGrid, load_grid, run_grid


def toy_pool():
    docs = ["01000001", "01000002", "01000003", "01000004"]
    return ParallelPool(languages=["en", "sw"], queries=["01000001"], docs=docs,
                        qrels={"01000001": {"01000002": 1, "01000003": 1}}, texts={}, split="test")


def test_language_bias_is_the_rank_distance_between_copies():
    pool = toy_pool()
    # columns: en:1 en:2 en:3 en:4 sw:1 sw:2 sw:3 sw:4; en:1 and sw:1 are the query's own verse
    scores = np.array([[9.0, 0.9, 0.5, 0.1, 9.0, 0.2, 0.8, 0.3]])
    # ranking without the own verse: en:2 (1), sw:3 (2), en:3 (3), sw:4 (4), sw:2 (5), en:4 (6)
    bias = language_bias(scores, pool, ["en", "sw"])
    assert bias["01000001"] == pytest.approx(((5 - 1) + (3 - 2)) / 2)
    same = np.array([[9.0, 0.9, 0.5, 0.1, 9.0, 0.9, 0.5, 0.1]])  # copies scored alike sit side by side
    assert language_bias(same, pool, ["en", "sw"])["01000001"] == 1.0


def test_fairness_at_the_top_of_the_multilingual_ranking():
    from otclir.evaluation.retrieval_settings import multilingual_fairness

    pool = toy_pool()
    scores = np.array([[9.0, 0.9, 0.5, 0.1, 9.0, 0.2, 0.8, 0.3]])  # ranking as in the test above
    fair = multilingual_fairness(scores, pool, ["en", "sw"], cutoff=3, top=4).loc["01000001"]
    assert fair["language_bias"] == pytest.approx(2.5)
    # within the top 3: verse 2 at 1 and 5 -> 1 and 4; verse 3 at 3 and 2: distances 3 and 1
    assert fair["language_bias@3"] == pytest.approx(2.0)
    assert (fair["top4:en"], fair["top4:sw"]) == (0.5, 0.5) and fair["top4_skew"] == 0.0  # en:2 sw:3 en:3 sw:4
    from otclir.evaluation.language_fairness import peer

    assert fair["PEER@3"] == pytest.approx(peer([[1, 3], [5, 2]], 3))


def test_merges_rank_each_language_by_its_own_ranking():
    from otclir.evaluation.retrieval_settings import merged_scores

    # two languages of three documents; sw scores are all lower, so the raw pool puts en first
    scores = np.array([[0.9, 0.5, 0.7, 0.3, 0.1, 0.2]])
    robin = merged_scores(scores, 2, "round-robin")
    assert list(np.argsort(-robin[0], kind="stable")) == [0, 3, 2, 5, 1, 4]  # en best, sw best, en second, ...
    normal = merged_scores(scores, 2, "normalised")
    assert np.allclose(normal[0, :3], (scores[0, :3] - scores[0, :3].mean()) / scores[0, :3].std())
    excluded = merged_scores(scores, 2, "round-robin", lambda i: [0, 3])  # the own verse in both languages
    assert list(np.argsort(-excluded[0], kind="stable")[:4]) == [2, 5, 1, 4]
    with pytest.raises(OtclirError, match="equal language blocks"):
        merged_scores(scores, 4, "round-robin")
    with pytest.raises(OtclirError, match="how must be one of 'round-robin', 'normalised'"):
        merged_scores(scores, 2, "best")


def test_merged_settings_sit_beside_the_multilingual_pool():
    docs = [f"010000{i:02d}" for i in range(1, 25)]
    pool = ParallelPool(languages=["en", "sw"], queries=["01000001"], docs=docs,
                        qrels={"01000001": {"01000002": 1, "01000003": 1}}, texts={}, split="test")
    rng = np.random.default_rng(0)
    d = rng.normal(size=(24, 8))
    q = d[1:2] + d[2:3]
    emb = {"en": (q, d), "sw": (q, 0.1 * d)}  # sw's scores are all closer to 0: below en's best
    summary, table = evaluate_settings(emb, pool, settings=["multilingual", "multilingual-round-robin",
                                                             "multilingual-normalised"], depth=None)
    by = summary.set_index(["setting", "query_language"])
    assert by.loc[("multilingual", "en"), "top10:en"] > by.loc[("multilingual", "en"), "top10:sw"]
    for merged in ("multilingual-round-robin", "multilingual-normalised"):
        assert by.loc[(merged, "en"), "language_bias"] < by.loc[("multilingual", "en"), "language_bias"]
    assert table.filter(like="PEER").notna().all().all()


def test_settings_cover_every_language_and_pair():
    pool = toy_pool()
    rng = np.random.default_rng(0)
    q = np.array([[0.0, 1.0, 0.0, 0.5]])  # verse 2 first, then verse 4, then verse 3
    d = np.eye(4)
    emb = {"en": (q, d), "sw": (q, d + rng.normal(0, 0.01, d.shape))}
    summary, table = evaluate_settings(emb, pool, depth=10)
    assert summary.setting.value_counts().to_dict() == {"monolingual": 2, "cross-lingual": 2, "multilingual": 2}
    mono = summary[summary.setting == "monolingual"]
    assert np.allclose(mono["R@1"], 0.5) and np.allclose(mono["AP"], (1 + 2 / 3) / 2)  # verse 3 ranks third
    multi = summary[summary.setting == "multilingual"]
    assert multi.language_bias.notna().all() and summary[summary.setting != "multilingual"].language_bias.isna().all()
    assert set(table.columns) >= {"setting", "query_language", "doc_language", "query", "AP", "nDCG@10"}
    assert pair_tier("en", "sw") == "low" and pair_tier("fr", "fa") == "mid"


def test_whole_pool_measures_equal_trec_eval_on_a_full_ranking():
    from otclir.retrieval.measures import per_query

    rng = np.random.default_rng(3)
    docs = [f"d{i:03d}" for i in range(60)]
    queries = [f"q{i}" for i in range(12)]
    qrels = {q: {d: int(rng.integers(1, 3)) for d in rng.choice(docs, size=int(rng.integers(1, 6)), replace=False)}
             for q in queries}
    scores = rng.normal(size=(len(queries), len(docs)))
    measures = ["AP", "RR", "nDCG@10", "R@1", "R@10", "P@5", "Success@1"]
    excluded = lambda i: [i]  # noqa: E731  (a query's own column, as the settings leave out its own verse)
    run = {q: {docs[j]: float(scores[i, j]) for j in range(len(docs)) if j != i} for i, q in enumerate(queries)}
    expected = per_query(qrels, run, measures)
    got = full_pool_measures(scores, docs, queries, excluded, qrels, measures)
    assert list(got.index) == list(expected.index)
    assert np.allclose(got[measures].to_numpy(), expected[measures].to_numpy())
    with pytest.raises(OtclirError, match="cannot be computed over the whole pool"):
        full_pool_measures(scores, docs, queries, excluded, qrels, ["MAP@100"])


def test_partial_sort_keeps_the_stable_top_of_each_ranking():
    from otclir.evaluation.retrieval_settings import _rank_scores

    scores = np.random.default_rng(0).normal(size=(30, 200)).round(1)  # many ties
    ids, queries = [f"d{i}" for i in range(200)], [f"q{i}" for i in range(30)]
    for depth in (1, 10, 200, 300):
        part = _rank_scores(scores, ids, queries, lambda i: [i], depth)
        for i, q in enumerate(queries):
            row = scores[i].copy()
            row[i] = -np.inf
            full = [j for j in np.argsort(-row, kind="stable")[:depth] if np.isfinite(row[j])]  # the stable full sort
            assert list(part[q].items()) == [(ids[j], float(row[j])) for j in full]


def test_bitext_setting_finds_each_verse_translation():
    pool = toy_pool()
    d = np.eye(4)
    emb = {"en": (d[:1], d), "sw": (d[:1], d * 0.9 + 0.01)}  # each verse closest to its own translation
    summary, table = evaluate_settings(emb, pool, settings=["bitext"], depth=None)
    assert summary[["query_language", "doc_language"]].values.tolist() == [["sw", "en"], ["en", "sw"]]
    assert np.allclose(summary["R@1"], 1) and np.allclose(summary["AP"], 1)
    assert len(table) == 2 * 4  # every pool verse is a query
    shuffled = {"en": (d[:1], d), "sw": (d[:1], d[[1, 0, 3, 2]] + 0.5 * d)}  # another verse first, its own second
    summary, _ = evaluate_settings(shuffled, pool, settings=["bitext"], depth=None)
    assert np.allclose(summary["R@1"], 0) and np.allclose(summary["AP"], 0.5)  # AP is MRR here
    with pytest.raises(OtclirError, match="unknown setting"):
        evaluate_settings(emb, pool, settings=["xtreme"])


def test_parallel_pool_is_the_same_in_every_language():
    pool = parallel_pool(["en", "sw", "fr"], "test", max_queries=20, max_docs=150, seed=0)
    assert len(pool.queries) == 20 and len(pool.docs) == 150
    judged = {v for rel in pool.qrels.values() for v in rel}
    assert judged <= set(pool.docs)
    assert all(all(d in pool.texts[code] for d in pool.docs) for code in pool.languages)
    assert pool.queries == parallel_pool(["en", "sw", "fr"], "test", 20, 150, 0).queries


def test_robustness_summary_takes_mean_worst_spread_and_tier_gap():
    summary = pd.DataFrame({
        "system": ["a"] * 4, "setting": ["monolingual"] * 4, "query_language": ["en", "sw", "tl", "fr"],
        "doc_language": ["en", "sw", "tl", "fr"], "tier": ["high", "low", "low", "high"], "AP": [0.5, 0.2, 0.1, 0.4]})
    scores = per_language(summary, ["system"])
    table = robustness_summary(scores, ["system", "setting"]).iloc[0]
    assert table["mean"] == pytest.approx(0.3) and table.worst == 0.1 and table.worst_language == "tl"
    assert table.spread == pytest.approx(np.std([0.5, 0.2, 0.1, 0.4]))
    assert table.high_low_gap == pytest.approx(0.45 - 0.15)
    cross = pd.DataFrame({"system": ["a"] * 2, "setting": ["cross-lingual"] * 2, "query_language": ["en", "sw"],
                          "doc_language": ["sw", "en"], "tier": ["low", "low"], "AP": [0.3, 0.1]})
    both = per_language(cross, ["system"]).set_index("language").AP
    assert both.to_dict() == pytest.approx({"en": 0.2, "sw": 0.2})  # a pair counts for both its languages


@pytest.mark.slow
def test_grid_skips_finished_and_resumes_interrupted_configurations(tmp_outputs):
    grid = AblationGrid(name="t", alphas=[0.0, 1.0], ot_weights=[0.0], budgets=[16], seeds=[0],
                        training=dict(languages=["en", "tl"], steps=2, batch_size=4, max_length=24, eval_every=0,
                                      checkpoint_every=1),
                        evaluation=dict(max_queries=8, max_docs=40, settings=["monolingual", "multilingual"]))
    messages = []
    run_grid(grid, log=messages.append, stop_after=1)
    assert sum("stopped at step 1" in m for m in messages) == 2
    first = load_grid(grid)
    assert set(first.system) == {"zero-shot"}  # only the untrained reference finished
    messages.clear()
    frame = run_grid(grid, log=messages.append)
    assert sum("trained in" in m for m in messages) == 2 and sum("skipped" in m for m in messages) == 1
    assert len(frame) == 3 * (2 + 2) and set(frame.alpha.dropna()) == {0.0, 1.0}
    folders = sorted(p for p in grid.folder().iterdir() if p.name.startswith("alpha0-"))
    log = [json.loads(line) for line in (folders[0] / "train" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]  # resumed at step 2, not restarted
    assert (folders[0] / "runs" / "multilingual" / "en-all.run").is_file()
    messages.clear()
    run_grid(grid, log=messages.append)
    assert sum("skipped" in m for m in messages) == 3
    per_query = load_grid(grid, per_query=True)
    assert len(per_query) == 3 * 4 * 8


@pytest.mark.slow
@pytest.mark.cost(40)
def test_worker_processes_give_the_grid_one_process_gives(tmp_outputs):
    settings = dict(alphas=[0.0, 1.0], ot_weights=[0.0], budgets=[16], seeds=[0],
                    training=dict(languages=["en", "tl"], steps=2, batch_size=4, max_length=24, eval_every=0,
                                  checkpoint_every=2),
                    evaluation=dict(max_queries=8, max_docs=40, depth=None, settings=["monolingual", "bitext"]))
    alone = run_grid(AblationGrid(name="alone", **settings), log=lambda line: None)
    lines = []
    together = run_grid(AblationGrid(name="together", **settings), log=lines.append, workers=2)
    assert len(lines) == 3 and all("evaluated in" in line for line in lines)
    measures = ["AP", "R@1", "R@10", "nDCG@10"]
    keys = ["system", "alpha", "setting", "query_language", "doc_language"]
    alone, together = (frame.sort_values(keys, na_position="first").reset_index(drop=True) for frame in (alone, together))
    assert alone[keys].equals(together[keys])
    assert np.allclose(alone[measures].to_numpy(), together[measures].to_numpy(), atol=1e-3)


def test_bad_grids_fail_before_training():
    with pytest.raises(OtclirError, match="grid axes"):
        AblationGrid(training={"alpha": 0.5})
    with pytest.raises(OtclirError, match="at least one value in seeds"):
        AblationGrid(seeds=[])
    with pytest.raises(OtclirError, match="alpha is a probability"):
        AblationGrid(alphas=[0.0, 2.0])
    with pytest.raises(OtclirError, match="unknown grid setting"):
        AblationGrid.from_dict({"alpha": [0.5]})
    with pytest.raises(OtclirError, match="unknown evaluation setting"):
        AblationGrid(evaluation={"pool": 3})


@pytest.mark.parametrize("profile", ["quick", "paper", "full"])
def test_every_profile_of_notebook_04_is_a_valid_grid(profile):
    from otclir import runner

    params = {**runner.declared_defaults("04"), **runner.resolve_parameters(runner.notebook_path("04"), profile)}
    grid = AblationGrid.from_dict({"name": params["grid_name"], "alphas": params["alphas"],
                                   "ot_weights": params["ot_weights"], "budgets": params["budgets"],
                                   "seeds": params["seeds"], "training": params["training"],
                                   "evaluation": params["evaluation"]})
    assert len(grid.points()) >= 4 and {0.0, 1.0} <= set(grid.alphas)
    if profile == "full":
        assert grid.alphas == [0.0, 0.25, 0.5, 0.75, 1.0] and None in grid.budgets and len(grid.seeds) > 1


@pytest.mark.slow
@pytest.mark.cost(160)
def test_notebook_04_quick_profile_computes_stores_and_reads_back(tmp_outputs, tmp_path, monkeypatch):
    import json

    from otclir import runner

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    runner.run_notebook("04")
    folder = tmp_path / "results" / "quick" / "04_hybrid_batch_ablations"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["settings"]["alphas"] == [0.0, 0.5, 1.0]
    names = {p.name for p in folder.iterdir()}
    assert {"summary.csv", "training_logs.csv.gz", "settings.json", "perquery-bitext-1.csv.gz"} <= names
    computed = runner.load_metrics("04_hybrid_batch_ablations")
    assert computed["configurations"] == 6
    assert set(computed["mean_by_setting"]) == {"monolingual", "cross-lingual", "multilingual", "bitext"}
    assert set(computed["hybrid_question"]["worst_language"]) == set(computed["mean_by_setting"])
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary.selected_step.dropna()) <= {0, 3}  # dev selection at step 0 or 3 of the quick runs
    runner.run_notebook("04", overrides={"recompute": False})
    assert runner.load_metrics("04_hybrid_batch_ablations")["mean_by_setting"] == computed["mean_by_setting"]


def test_attainable_maxima_show_where_a_measure_cannot_reach_1():
    from otclir.evaluation.retrieval_settings import attainable

    pool = toy_pool()  # one query, two relevant verses, two languages
    whole = attainable(pool, depth=None)
    assert whole.loc["monolingual", "AP"] == 1 and whole.loc["monolingual", "R@1"] == 0.5
    assert whole.loc["multilingual", "R@1"] == 0.25 and whole.loc["multilingual", "AP"] == 1  # four copies relevant
    cut = attainable(pool, depth=3)
    assert cut.loc["multilingual", "AP"] == pytest.approx(0.75) and cut.loc["cross-lingual", "AP"] == 1
