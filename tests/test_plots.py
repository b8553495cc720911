import pandas as pd

from otclir import plots


def test_figures_regenerate_byte_for_byte(tmp_path):
    frame = pd.DataFrame({"language": ["sw", "sw", "fr", "fr"], "tier": ["low", "low", "high", "high"],
                          "words": [10, 12, 20, 22]})
    first = plots.save_figure(plots.lengths_by_language(frame), "lengths", tmp_path / "a")
    plots.save_figure(plots.lengths_by_language(frame), "lengths", tmp_path / "b")
    assert [p.rsplit(".", 1)[1] for p in first] == ["pdf", "png"]
    for ext in ("pdf", "png"):
        assert (tmp_path / "a" / f"lengths.{ext}").read_bytes() == (tmp_path / "b" / f"lengths.{ext}").read_bytes()
