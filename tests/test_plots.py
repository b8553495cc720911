"""Every figure function renders on small inputs into a column-width PDF with TrueType fonts and
no empty axes; the checks themselves catch a blank panel and a Type 3 font."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from otclir import plots  # noqa: E402

RNG = np.random.default_rng(0)
LANGUAGES = {"sw": "low", "tl": "low", "fa": "mid", "fr": "high"}


def _lengths():
    return pd.DataFrame([{"language": c, "tier": t, "words": int(w)} for c, t in LANGUAGES.items()
                         for w in RNG.integers(5, 40, 30)])


def _tokenizer():
    return pd.DataFrame([{"language": c, "tier": t, "model": m, "fertility": RNG.uniform(1, 3),
                          "split_word_rate": RNG.uniform(0, 1), "unk_rate": RNG.uniform(0, 0.01)}
                         for c, t in LANGUAGES.items() for m in ("e5", "minilm")])


def _plans():
    plans = {}
    for eps in (0.01, 0.1, 1.0):
        logits = -RNG.uniform(0, 1, (6, 7)) / eps
        plans[eps] = np.exp(logits) / np.exp(logits).sum()
    return plans


def _quality():
    rows = [{"testament": "nt", "system": s, "method": m, "epsilon": e, "aer": RNG.uniform(0.3, 0.8)}
            for s in ("sinkhorn", "sinkhorn, cost/std") for m in ("argmax", "intersection") for e in (0.01, 0.1, 1.0)]
    rows += [{"testament": "nt", "system": s, "method": "-", "epsilon": np.nan, "aer": RNG.uniform(0.3, 0.8)}
             for s in ("exact OT", "diagonal")]
    return pd.DataFrame(rows)


def _logs():
    rows = []
    for config in ("distill-sentence_mse@500", "distill-ot@500"):
        for seed in (0, 1):
            for step in range(0, 60, 10):
                rows.append({"config": config, "seed": seed, "step": step, "loss": 1 / (1 + step) + RNG.uniform(0, .1),
                             "dev_AP": 0.05 + step / 1000, "plan_shift": step / 100 if "ot" in config else np.nan,
                             "alignment": 0.8})
    return pd.DataFrame(rows)


def _study():
    rows = []
    for config, lr in (("sentence_mse lr=0.0001", 1e-4), ("sentence_mse lr=0.0003", 3e-4),
                       ("ot plan=adaptive lr=0.0001 eps=0.1", 1e-4), ("ot plan=adaptive lr=0.0003 eps=0.1", 3e-4)):
        for step, epochs in ((0, 0.0), (50, 1.0), (100, 2.0)):
            row = {"config": config, "lr": lr, "step": step, "epochs": epochs}
            for scorer in ("mean", "maxsim"):
                share = RNG.uniform(-0.1, 0.3)
                row |= {f"gap_share_{scorer}": share, f"gap_share_{scorer}_low": share - 0.1,
                        f"gap_share_{scorer}_high": share + 0.1}
            rows.append(row)
    return pd.DataFrame(rows)


def _differences():
    rows = []
    for task in ("crossref", "topical"):
        for language in LANGUAGES:
            for system in ("distill-sentence_mse@500", "distill-ot@500", "distill-ot@2000"):
                d = RNG.normal(0.003, 0.004)
                rows.append({"task": task, "language": language, "system": system, "baseline": "zero-shot",
                             "diff": d, "low": d - 0.004, "high": d + 0.004, "goal": 0.02, "significant": d > 0.004})
                if "ot" in system:
                    rows.append({"task": task, "language": language, "system": system, "baseline": "rival",
                                 "diff": d / 2, "low": d / 2 - 0.004, "high": d / 2 + 0.004, "goal": np.nan,
                                 "significant": False})
    return pd.DataFrame(rows)


def _alpha_curves():
    rows = [{"setting": s, "tier": t, "ot_weight": w, "alpha": a, "mean": 0.1 + a / 10, "low": 0.09, "high": 0.12,
             "train_pairs": 2000} for s in ("cross-lingual", "bitext") for t in ("low", "high") for w in (0.0, 1.0)
            for a in (0.0, 0.5, 1.0)]
    return pd.DataFrame(rows)


FIGURES = {
    "lengths_by_language": lambda: plots.lengths_by_language(_lengths()),
    "tokenizer_bars": lambda: plots.tokenizer_bars(_tokenizer()),
    "relevance_histogram": lambda: plots.relevance_histogram(pd.DataFrame(
        {"split": ["train"] * 40 + ["test"] * 40, "relevant": RNG.integers(1, 40, 80)})),
    "cost_and_plan": lambda: plots.cost_and_plan(RNG.uniform(0, 1, (6, 7)), _plans()[0.1], list("abcdef"),
                                                 list("ABCDEFG"), "verse", gold={(0, 0), (2, 3)}),
    "plans_by_epsilon": lambda: plots.plans_by_epsilon(_plans(), list("abcdef"), list("ABCDEFG")),
    "aer_by_epsilon": lambda: plots.aer_by_epsilon(_quality()),
    "training_curves": lambda: plots.training_curves(_logs(), "en→sw"),
    "training_curves_of_one_seed": lambda: plots.training_curves(_logs().drop(columns="seed"), "runs stored before seeds"),
    "study_grid": lambda: plots.study_grid(_study()),
    "difference_forest": lambda: plots.difference_forest(_differences(), "AP", "goal"),
    "per_query_differences": lambda: plots.per_query_differences(
        {c: pd.Series(RNG.normal(0, 0.05, 1500)) for c in LANGUAGES}, "AP difference"),
    "alpha_curves": lambda: plots.alpha_curves(_alpha_curves(), pd.DataFrame(
        {"setting": ["cross-lingual"], "tier": ["low"], "AP": [0.08]})),
    "bias_by_alpha": lambda: plots.bias_by_alpha(_alpha_curves().drop_duplicates(["ot_weight", "alpha"]), 3.0),
    "gains_against": lambda: plots.gains_against(pd.DataFrame(
        [{"language": c, "tier": t, "system": s, "gain": RNG.normal(0.003, 0.004), "cc100_gib": g, "pieces_per_word": w}
         for (c, t), g, w in zip(LANGUAGES.items(), (1.6, 3.1, 111.6, 56.8), (1.7, 1.5, np.nan, 1.3))
         for s in ("distill-ot@2000", "distill-ot@2000 − distill-sentence_mse@2000")]),
        {"cc100_gib": "CC-100 (GiB)", "pieces_per_word": "pieces per word"}),
    "budget_curves": lambda: plots.budget_curves(pd.DataFrame(
        [{"setting": "cross-lingual", "tier": t, "train_pairs": b, "mean": 0.1, "low": 0.08, "high": 0.12}
         for t in ("low", "high") for b in (500, 2000, np.nan)])),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_each_figure_draws_every_panel_in_a_column_width_pdf_with_truetype_fonts(name, tmp_path):
    fig = FIGURES[name]()
    assert plots.empty_axes(fig) == []
    [pdf, png] = plots.save_figure(fig, name, folder=tmp_path)
    plt.close(fig)
    data = (tmp_path / f"{name}.pdf").read_bytes()
    assert plots.type3_fonts(data) == []
    assert b"/TrueType" in data or b"/CIDFontType2" in data
    assert plots.pdf_width_inches(data) <= plots.DOUBLE_COLUMN + 0.25


def test_a_panel_of_bars_painted_over_by_white_edges_counts_as_empty():
    fig, (blank, drawn) = plt.subplots(1, 2, figsize=(6, 2))
    values = np.sort(RNG.normal(0, 1, 1500))
    blank.bar(range(len(values)), values, width=1.0, edgecolor="white", linewidth=1.0)
    blank.set_title("blank")
    plots.use_style()
    drawn.fill_between(np.arange(len(values)), values, 0, linewidth=0)
    drawn.set_title("drawn")
    assert plots.empty_axes(fig) == ["blank"]
    plt.close(fig)


def test_a_type3_font_is_found(tmp_path):
    with matplotlib.rc_context({"pdf.fonttype": 3}):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_title("Type 3")
        fig.savefig(tmp_path / "t3.pdf")
        plt.close(fig)
    assert plots.type3_fonts(tmp_path / "t3.pdf")


def test_figures_regenerate_byte_for_byte(tmp_path):
    lengths = _lengths()
    first = plots.save_figure(plots.lengths_by_language(lengths), "lengths", folder=tmp_path / "a")
    plots.save_figure(plots.lengths_by_language(lengths), "lengths", folder=tmp_path / "b")
    assert [p.rsplit(".", 1)[1] for p in first] == ["pdf", "png"]
    for ext in ("pdf", "png"):
        assert (tmp_path / "a" / f"lengths.{ext}").read_bytes() == (tmp_path / "b" / f"lengths.{ext}").read_bytes()


def test_display_names_and_orders():
    assert plots.display_name("distill-ot+contrastive@2000") == "OT + contrastive @2000"
    assert plots.display_name("distill-ot@500.seed2") == "OT @500 (seed 2)"
    assert plots.display_name("student-zero-shot") == "zero-shot student"
    assert plots.system_order(["distill-ot@2000", "bm25-dictionary@500", "distill-ot@500",
                               "distill-sentence_mse@500", "student-zero-shot"]) == [
        "student-zero-shot", "distill-sentence_mse@500", "distill-ot@500", "distill-ot@2000", "bm25-dictionary@500"]
    assert plots.languages_by_tier(["fr", "sw", "fa", "tl"]) == ["sw", "tl", "fa", "fr"]


def test_per_query_counts_ignore_floating_point_ties_and_say_same_scores():
    from otclir.plots.significance import up_and_down

    assert up_and_down([1.1e-16, -1e-17, 0.0]) == "same scores"
    assert up_and_down([0.02, -0.01, 1e-16, 0.0]) == "1 up, 1 down"


def test_text_over_a_legend_or_a_page_too_wide_is_refused_and_nothing_is_kept(tmp_path):
    """The layout the training figures had: the figure's title placed by guess above a legend
    that grows upward, here with six rows of labels; and a legend of long labels in one row."""
    from otclir.errors import OtclirError
    from otclir.plots.style import layout_problems, save_figure

    fig, ax = plt.subplots(figsize=(plots.DOUBLE_COLUMN, 2))
    for i in range(24):
        ax.plot([0, 1], [i, i + 1], label=f"student {i}")
    fig.legend(loc="lower center", ncols=4, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("a title placed by guess", y=1.09)
    assert any("the figure's title overlaps the figure's legend" in p for p in layout_problems(fig))
    with pytest.raises(OtclirError, match="not fit for a paper: the figure's title overlaps the figure's legend"):
        save_figure(fig, "crowded", folder=tmp_path)
    assert not list(tmp_path.iterdir())
    wide, ax = plt.subplots(figsize=(plots.DOUBLE_COLUMN, 2))
    for i in range(6):
        ax.plot([0, 1], [i, i], label=f"a long legend label for system number {i}")
    wide.legend(loc="lower center", ncols=6, frameon=False, bbox_to_anchor=(0.5, 1.0))
    assert any("in wide, more than the 6.9 in" in p for p in layout_problems(wide))
    plt.close("all")


def test_the_training_figure_puts_its_legend_clear_of_its_title():
    from otclir.plots.style import layout_problems

    rng = np.random.default_rng(0)
    logs = pd.DataFrame([{"config": f"distill-{objective}-sw-{budget}", "seed": seed, "step": step,
                          "loss": rng.random(), "dev_bitext_MRR": rng.random() if step % 5 == 0 else np.nan}
                         for objective in ("sentence_mse", "contrastive", "ot") for budget in (500, 2000)
                         for seed in (0, 1, 2) for step in range(0, 20)])
    fig = plots.training_curves(logs, title="en→sw: the headline students")
    assert layout_problems(fig) == []
    plt.close(fig)
