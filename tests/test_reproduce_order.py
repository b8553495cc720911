"""A recomputing reproduce computes every part of the profile, the language sweep included, in the
order the parts read each other: the planned students (both teachers') before notebook 03, notebook 03 before the
sweep, the regime probe and then the regime grid before notebook 04, the sweep before notebook 05."""
from otclir import cli, runner
from otclir.experiments import hybrid_regime, language_sweep, regime_grid, student_plan


def _record_calls(monkeypatch, calls):
    def run_notebook(name, profile="quick", overrides=None, **kwargs):
        calls.append((name[:2], dict(overrides or {})))
        return runner.outputs_dir("notebooks", profile) / f"{name}.ipynb"

    monkeypatch.setattr(runner, "run_notebook", run_notebook)
    monkeypatch.setattr(language_sweep, "compute", lambda sweep, profile, **kw: calls.append(("sweep", sweep.to_record())))
    monkeypatch.setattr(hybrid_regime, "compute", lambda probe, profile, **kw: calls.append(("regime", probe.to_record())))
    monkeypatch.setattr(regime_grid, "compute", lambda parameters, declared, profile, **kw: calls.append(
        ("regime grid", regime_grid.regime_grid(parameters, declared).to_record())))
    monkeypatch.setattr(student_plan, "compute", lambda plan, **kw: calls.append(("students", plan.to_record())))
    monkeypatch.setattr(cli, "_summary", lambda args: calls.append(("summary", {})))


def test_recompute_runs_the_sweep_between_notebooks_04_and_05(monkeypatch):
    calls = []
    _record_calls(monkeypatch, calls)
    monkeypatch.setattr(cli, "_stores_current", lambda notebook, profile: False)
    cli.main(["reproduce", "--profile", "paper", "--recompute", "--log-output"])
    order = [name for name, _ in calls]
    assert order == ["01", "02", "students", "students", "03", "regime", "regime grid", "04", "sweep", "05", "summary"]
    plans = [record for name, record in calls if name == "students"]
    assert [plan["teacher"] for plan in plans] == [None, "minilm-teacher"]  # the self-teacher's, then MiniLM's
    assert all(plan["checks"] == 10 for plan in plans)
    assert dict(calls)["regime grid"]["training"]["frozen_layers"] == 4
    assert all(overrides == {"recompute": True} for name, overrides in calls if name in ("02", "03", "04"))
    assert dict(calls)["sweep"]["budget"] == 2000


def test_recompute_reads_the_parts_status_calls_current_and_computes_the_stale_ones(monkeypatch, tmp_path):
    import json
    import shutil

    from otclir.paths import project_root

    shutil.copytree(project_root() / "results" / "paper", tmp_path / "paper")
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    code = tmp_path / "paper" / "04_hybrid_batch_ablations" / "code.json"
    code.write_text(json.dumps({**json.loads(code.read_text()), "code": "0" * 16}))  # other code computed it
    calls = []
    _record_calls(monkeypatch, calls)
    cli.main(["reproduce", "--profile", "paper", "--recompute", "--log-output"])
    overrides = {name: o for name, o in calls}
    assert overrides["02"] == overrides["03"] == {}  # current: read
    assert overrides["04"] == {"recompute": True}  # stale: computed


def test_reading_reproduce_and_profiles_without_a_sweep_compute_none(monkeypatch):
    calls = []
    _record_calls(monkeypatch, calls)
    cli.main(["reproduce", "--profile", "paper", "--log-output"])
    cli.main(["reproduce", "--profile", "quick", "--recompute", "--log-output"])
    assert not {"sweep", "regime", "regime grid", "students"} & {name for name, _ in calls}
