"""Each stored part's wall time is read from what the part recorded, and the summary states the sum."""
import re

from otclir.wall_times import part_times, wall_time_table


def test_every_stored_part_has_its_recorded_time_and_the_table_sums_them():
    parts = part_times("paper")
    names = [p.part for p in parts]
    assert names == ["02 OT alignment", "03 recipe study", "03 headline", "04 hybrid grid", "04 larger budget",
                     "05 language sweep", "04 regime probe"]
    assert all(p.seconds and p.seconds > 0 and p.commits for p in parts)
    table = "\n".join(wall_time_table("paper"))
    total = float(re.search(r"together ([\d.]+) h", table).group(1))
    assert abs(total - sum(p.seconds for p in parts) / 3600) < 0.05
    assert table.count("\n| 0") == len(parts)


def test_a_part_timed_per_language_is_summed_over_its_languages(tmp_path):
    import json

    from otclir.wall_times import distillation_parts

    class Store:
        def path(self, name):
            return tmp_path / name

        def read_table(self, name):
            raise AssertionError("no study here")

    (tmp_path / "provenance.json").write_text(json.dumps({
        "settings": {"languages": ["sw", "fa"]}, "wall_seconds": 10.0, "git": {"commit": "a" * 40},
        "language_seconds": {"sw": 100.0, "fa": 50.0}, "language_commits": {"sw": "b" * 40, "fa": "a" * 40},
        "machine": {"cpu": "cpu", "cpu_count": 2, "gpus": []}}))
    [headline] = distillation_parts(Store())
    assert headline.seconds == 150.0 and headline.commits == {"aaaaaaa", "bbbbbbb"}


def test_a_stored_result_is_described_with_its_parts_time_not_the_storing_runs():
    """A run that resumed every staged part stores in seconds what took hours: the description names
    the storing commit and machine, and the time is the sum its parts recorded."""
    import json

    from otclir.experiments.stores import stored_results
    from otclir.wall_times import recorded_time, store_parts, stored_by

    grid = stored_results("paper")["04_hybrid_batch_ablations"]
    record = json.loads(grid.path("provenance.json").read_text(encoding="utf-8"))
    described = stored_by(record)
    assert described.startswith(f"stored on {record['date']} at commit {record['git']['commit'][:10]}")
    assert " min" not in described
    [part] = store_parts(grid)
    assert recorded_time(grid) == (f"Wall time recorded by its parts: 04 hybrid grid {part.seconds / 60:.0f} min "
                                   f"({part.units}); at commit {', '.join(sorted(part.commits))}.")
    summary = grid.read_table("summary.csv")
    per_config = summary.groupby(["system", "alpha", "ot_weight", "train_pairs", "seed"], dropna=False)
    assert abs(part.seconds - per_config[["train_seconds", "evaluate_seconds"]].first().sum().sum()) < 1e-6
