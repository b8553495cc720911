"""A grid's finished configurations travel with the results' staging folder, so a recomputation
of notebook 04 that spans sessions resumes where the last one stopped."""
import json

from otclir.experiments import grid_parts
from otclir.experiments.ablation import AblationGrid, _finished, point_record


def finished_configuration(grid: AblationGrid, point) -> tuple:
    """A configuration folder as run_point leaves it (small made-up tables, its real record)."""
    label, record, folder = point_record(grid, point)
    (folder / "train").mkdir(parents=True)
    (folder / "summary.tsv").write_text("system\tsetting\tAP\ntrained\tmonolingual\t0.25\n")
    (folder / "perquery.tsv").write_text("query\tAP\n45001001\t0.5\n45001006\t0.0\n")
    (folder / "timing.json").write_text('{"train_seconds": 1.0, "evaluate_seconds": 2.0}\n')
    (folder / "train" / "log.jsonl").write_text('{"step": 0, "dev_AP": 0.2}\n')
    (folder / "train" / "best").mkdir()  # a student: not staged
    (folder / "config.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record, folder


def test_a_finished_configuration_is_staged_without_its_students_and_restored_as_finished(tmp_outputs, tmp_path,
                                                                                          monkeypatch):
    import shutil

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    grid = AblationGrid(name="parts", alphas=[0.0, 1.0], ot_weights=[0.0], budgets=[8], seeds=[0])
    record, folder = finished_configuration(grid, grid.points()[0])
    _, _, unfinished = point_record(grid, grid.points()[1])
    (unfinished / "train").mkdir(parents=True)  # stopped mid-training: nothing to stage
    assert grid_parts.stage_finished(grid.folder(), "quick") == [folder.name]
    assert grid_parts.stage_finished(grid.folder(), "quick") == []  # staged once
    staged = grid_parts.parts_folder("quick") / folder.name
    assert sorted(p.name for p in staged.rglob("*") if p.is_file()) == [
        "config.json", "log.jsonl", "part.json", "perquery.tsv.gz", "summary.tsv.gz", "timing.json"]
    assert set(grid_parts.staged_parts("quick")[folder.name]) == {"git", "staged"}

    originals = {name: (folder / name).read_bytes() for name in ("summary.tsv", "perquery.tsv", "train/log.jsonl")}
    shutil.rmtree(grid.folder())  # a fresh clone: outputs/ is gone
    assert grid_parts.restore_staged(grid.folder(), "quick") == [folder.name]
    assert _finished(folder, record)  # run_point skips it
    assert {name: (folder / name).read_bytes() for name in originals} == originals
    assert not (folder / "train" / "best").exists()
    assert grid_parts.restore_staged(grid.folder(), "quick") == []  # already there

    other = AblationGrid(name="parts", alphas=[0.0, 1.0], ot_weights=[0.0], budgets=[16], seeds=[0])
    _, _, elsewhere = point_record(other, other.points()[0])
    assert elsewhere != folder and not _finished(elsewhere, point_record(other, other.points()[0])[1])
    grid_parts.remove_parts("quick")
    assert grid_parts.staged_parts("quick") == {}
