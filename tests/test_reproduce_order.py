"""A recomputing reproduce computes every part of the profile, the language sweep included, in the
order the parts read each other: notebook 03 before the sweep, the sweep before notebook 05."""
from otclir import cli, runner
from otclir.experiments import language_sweep


def _record_calls(monkeypatch, calls):
    def run_notebook(name, profile="quick", overrides=None, **kwargs):
        calls.append((name[:2], dict(overrides or {})))
        return runner.outputs_dir("notebooks", profile) / f"{name}.ipynb"

    monkeypatch.setattr(runner, "run_notebook", run_notebook)
    monkeypatch.setattr(language_sweep, "compute", lambda sweep, profile, **kw: calls.append(("sweep", sweep.to_record())))
    monkeypatch.setattr(cli, "_summary", lambda args: calls.append(("summary", {})))


def test_recompute_runs_the_sweep_between_notebooks_04_and_05(monkeypatch):
    calls = []
    _record_calls(monkeypatch, calls)
    cli.main(["reproduce", "--profile", "paper", "--recompute", "--log-output"])
    order = [name for name, _ in calls]
    assert order == ["01", "02", "03", "04", "sweep", "05", "summary"]
    assert all(overrides == {"recompute": True} for name, overrides in calls if name in ("02", "03", "04"))
    assert dict(calls)["sweep"]["budget"] == 2000


def test_reading_reproduce_and_profiles_without_a_sweep_compute_none(monkeypatch):
    calls = []
    _record_calls(monkeypatch, calls)
    cli.main(["reproduce", "--profile", "paper", "--log-output"])
    cli.main(["reproduce", "--profile", "quick", "--recompute", "--log-output"])
    assert "sweep" not in [name for name, _ in calls]
