"""A stored result's key covers the code its computation runs, function by function: what a change
stales, and a call trace of real small parts that the key must cover."""
import json
import shutil
import textwrap

import pytest

from helpers import AWAITING_RECOMPUTE

from otclir.experiments import code_reach
from otclir.experiments.code_reach import CodeIndex
from otclir.paths import project_root

LIBRARY = {
    "__init__.py": "",
    "base.py": '''
        LIMIT = 3


        class Trainer:
            def train(self):
                return self.step()

            def step(self):
                raise NotImplementedError


        def unused():
            return 1
    ''',
    "distill.py": '''
        from otclir.base import LIMIT, Trainer


        class Distiller(Trainer):
            def step(self):
                """One step."""
                return LIMIT * 2  # twice


        def run():
            return Distiller().train()
    ''',
    "hybrid.py": '''
        from otclir.base import Trainer


        class Hybrid(Trainer):
            def step(self):
                return 7


        def run():
            return Hybrid().train()
    ''',
}
LIBRARY = {name: textwrap.dedent(text) for name, text in LIBRARY.items()}


def _library(folder, **changed):
    root = folder / "otclir"
    root.mkdir(parents=True, exist_ok=True)
    for name, text in {**LIBRARY, **changed}.items():
        (root / name).write_text(text, encoding="utf-8")
    return CodeIndex(root)


def _digests(index, entry):
    return {unit: index.digest(unit) for unit in index.reach(entry)}


def test_reach_follows_names_imports_and_the_methods_of_live_classes_only(tmp_path):
    reach = _library(tmp_path).reach("otclir.distill:run")
    assert {"otclir.distill:run", "otclir.distill:Distiller", "otclir.distill:Distiller.step", "otclir.base:Trainer",
            "otclir.base:Trainer.train", "otclir.base:<module>"} <= reach
    # the sibling trainer's step is never reached: nothing the entry runs makes a Hybrid
    assert "otclir.hybrid:Hybrid.step" not in reach and "otclir.base:unused" not in reach


def test_a_new_unused_function_a_docstring_and_a_comment_change_no_key_a_statement_does(tmp_path):
    before = _digests(_library(tmp_path / "a"), "otclir.distill:run")
    added = LIBRARY["base.py"] + "\n\ndef another():\n    return 2\n"
    assert _digests(_library(tmp_path / "b", **{"base.py": added}), "otclir.distill:run") == before
    reworded = LIBRARY["distill.py"].replace('"""One step."""', '"""Another word."""').replace("# twice", "# x2")
    assert _digests(_library(tmp_path / "c", **{"distill.py": reworded}), "otclir.distill:run") == before
    changed = LIBRARY["distill.py"].replace("LIMIT * 2", "LIMIT * 3")
    after = _digests(_library(tmp_path / "d", **{"distill.py": changed}), "otclir.distill:run")
    assert {u for u in after if after[u] != before.get(u)} == {"otclir.distill:Distiller.step"}
    # the sibling's change stales the hybrid entry and not the distiller's
    sibling = LIBRARY["hybrid.py"].replace("return 7", "return 8")
    assert _digests(_library(tmp_path / "e", **{"hybrid.py": sibling}), "otclir.distill:run") == before


GUARDS = """
from otclir.errors import InputError


def whole(value, name):
    if not isinstance(value, int):
        raise InputError(name)
"""


def test_a_guard_statement_changes_no_key_and_a_guard_whose_value_is_used_does(tmp_path):
    before = _digests(_library(tmp_path / "a", **{"checks.py": GUARDS}), "otclir.distill:run")
    guarded = LIBRARY["distill.py"].replace("from otclir.base import LIMIT, Trainer",
                                            "from otclir import checks\nfrom otclir.base import LIMIT, Trainer")
    guarded = guarded.replace('"""One step."""', '"""One step."""\n        checks.whole(LIMIT, "LIMIT")')
    index = _library(tmp_path / "b", **{"checks.py": GUARDS, "distill.py": guarded})
    assert _digests(index, "otclir.distill:run") == before
    assert not any(u.startswith("otclir.checks") for u in index.reach("otclir.distill:run"))
    # the guard module's own change keys nothing: it only refuses
    assert _digests(_library(tmp_path / "c", **{"checks.py": GUARDS.replace("int", "(int, float)"),
                                                 "distill.py": guarded}), "otclir.distill:run") == before
    # a guard whose value is used, or whose argument calls a function, is computation: keyed
    for statement in ('x = checks.whole(LIMIT, "LIMIT")', 'checks.whole(unused(), "LIMIT")'):
        used = guarded.replace('checks.whole(LIMIT, "LIMIT")', statement)
        after = _digests(_library(tmp_path / "d", **{"checks.py": GUARDS, "distill.py": used}), "otclir.distill:run")
        assert after["otclir.distill:Distiller.step"] != before["otclir.distill:Distiller.step"]


def test_the_librarys_guards_return_nothing_and_assign_nothing():
    """What lets a guard stay out of the key: it can stop a computation, never change its value."""
    import ast
    import inspect

    from otclir import checks

    tree = ast.parse(inspect.getsource(checks))
    guards = [n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert len(guards) >= 8
    for guard in guards:
        parameters = {a.arg for a in guard.args.args + guard.args.kwonlyargs}
        for node in ast.walk(guard):
            assert not (isinstance(node, ast.Return) and node.value is not None), guard.name
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:  # no item or attribute of an argument is written
                if isinstance(target, (ast.Subscript, ast.Attribute)):
                    base = target.value
                    while isinstance(base, (ast.Subscript, ast.Attribute)):
                        base = base.value
                    assert not (isinstance(base, ast.Name) and base.id in parameters), guard.name


def test_a_key_names_what_changed_and_the_data_files_its_code_reads():
    key = code_reach.code_key("otclir.experiments.alignment_results:compute")
    assert "data/splits.json" in key.data and "otclir.data.splits:<module>" in key.units
    assert "otclir.evaluation.stats:paired_t_test" not in key.units  # imported around it, never run by it
    recorded = key.record()
    recorded["units"] = {**recorded["units"], "otclir.data.splits:<module>": "0" * 16}
    recorded["data"] = {**recorded["data"], "data/splits.json": "0" * 64}
    assert key.changes(recorded) == ["otclir.data.splits:<module> changed", "data/splits.json changed"]


def test_unknown_entries_are_named():
    with pytest.raises(KeyError, match="no function"):
        code_reach.library_index().entry_units("otclir.experiments.distillation:nothing_here")
    with pytest.raises(KeyError, match="no module"):
        code_reach.library_index().entry_units("otclir.nowhere")


def test_the_stores_keys_are_far_smaller_than_the_library():
    from otclir.experiments.provenance import COMPUTING

    index = code_reach.library_index()
    library = sum(index.lines(u) for u in index.units)
    for store, entries in COMPUTING.items():
        lines = sum(index.lines(u) for u in index.reach(*entries))
        assert lines < 0.5 * library, f"{store}'s key covers {lines} of {library} lines"
    alignment = sum(index.lines(u) for u in index.reach(*COMPUTING["02_ot_alignment"]))
    assert alignment < 0.25 * library  # notebook 02 trains nothing: no trainer in its key


def test_a_computation_stops_when_its_code_changed_on_disk_since_it_started(monkeypatch):
    """What a grid's worker checks at each configuration's start: the code its entry reaches, as
    the files hold it now, against the code it started with."""
    from otclir import checks
    from otclir.errors import InputError
    from otclir.experiments.code_reach import CodeKey

    entry = "otclir.evaluation.stats:correct"
    monkeypatch.delitem(checks._STARTED_WITH, entry, raising=False)
    checks.code_unchanged(entry)  # the first call records the code
    checks.code_unchanged(entry)  # unchanged: it goes on
    monkeypatch.setitem(checks._STARTED_WITH, entry, CodeKey({"otclir.evaluation.stats:correct": "before"}, {}, {}))
    with pytest.raises(InputError, match="changed on disk since it started .*stop it and start it again"):
        checks.code_unchanged(entry)


# ---------------------------------------------------------------- the key covers what runs
def _missing(ran: set, entry: str) -> list:
    return sorted(ran - code_reach.library_index().reach(entry))


@pytest.mark.slow
@pytest.mark.cost(40)
def test_notebook_02s_computation_runs_only_what_its_key_covers():
    from otclir.experiments import alignment_results
    from otclir.experiments.ot_alignment import AlignmentSettings

    ran, stored = code_reach.traced_units(alignment_results.compute, AlignmentSettings(alignment_verses=5))
    assert len(ran) > 40 and stored.quality is not None
    assert _missing(ran, "otclir.experiments.alignment_results:compute") == []


@pytest.mark.slow
@pytest.mark.cost(60)
def test_a_trained_and_evaluated_student_runs_only_what_the_sweeps_key_covers(tmp_outputs, tmp_path, monkeypatch):
    from test_language_sweep import _headline, _headline_results

    from otclir.experiments import language_sweep
    from otclir.experiments.distillation import NOTEBOOK, default_recipes
    from otclir.experiments.results import ResultStore

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    headline, store = _headline(), ResultStore("quick", NOTEBOOK)
    with store.recomputing():
        store.start(headline.to_record())
        store.write_table("results.csv", _headline_results())
        store.write_json("recipes.json", default_recipes(headline))
        store.finish(1.0, headline.to_record())
    sweep = language_sweep.SweepSettings(languages=["tl"], budget=16, objectives=["ot"], seeds=[0])
    ran, _ = code_reach.traced_units(language_sweep.compute, sweep, "quick")
    assert {"otclir.training.distillation:Distiller.batch_losses", "otclir.transport.ot:sinkhorn"} <= ran
    assert _missing(ran, "otclir.experiments.language_sweep:compute") == []
    # and notebook 03's key covers the same student code
    training = {u for u in ran if u.startswith(("otclir.training.", "otclir.transport.", "otclir.models."))}
    assert _missing(training, "otclir.experiments.distillation:compute") == []


@pytest.mark.slow
@pytest.mark.cost(40)
def test_a_hybrid_grid_configuration_runs_only_what_its_key_covers(tmp_outputs):
    from otclir.experiments import ablation

    parameters = ablation.HybridParameters(
        alphas=[0.5], budgets=[32], evaluation={"max_queries": 5, "max_docs": 15},
        training={"languages": ["en", "sw"], "steps": 2, "batch_size": 4, "eval_every": 2, "dev_queries": 5,
                  "dev_docs": 10, "checkpoint_every": 2})
    grid = parameters.grid()
    ran, _ = code_reach.traced_units(ablation.run_point, grid, grid.points()[0], log=lambda message: None)
    assert "otclir.training.hybrid:ContrastiveTrainer.batch_losses" in ran
    assert _missing(ran, "otclir.experiments.ablation:run_point") == []
    assert _missing(ran, "otclir.experiments.ablation:store_grid") == []


@pytest.mark.slow
@pytest.mark.cost(60)
def test_a_student_part_runs_only_what_its_key_covers(tmp_outputs, tmp_path, monkeypatch):
    from otclir.experiments import student_parts
    from otclir.experiments.student_parts import StudentEvaluation
    from otclir.training.configs import DistillConfig

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    config = DistillConfig(language="tl", objective="ot", train_pairs=8, steps=2, batch_size=4, max_length=24,
                           eval_every=1, checkpoint_every=1, dev_queries=5, dev_docs=20, balance_batches=1)
    evaluation = StudentEvaluation(tasks=["crossref"], scorers=["mean", "maxsim"], rerank_depth=10, test_queries=5,
                                   test_docs=20)
    ran, folder = code_reach.traced_units(student_parts.compute_part, config, evaluation, log=lambda message: None)
    assert student_parts.is_finished(folder)
    assert {"otclir.training.distillation:Distiller.batch_losses", "otclir.transport.ot:sinkhorn"} <= ran
    assert _missing(ran, student_parts.ENTRY) == []


# ---------------------------------------------------------------- otclir status
def test_status_of_the_stored_paper_profile_is_current_and_names_each_part():
    from otclir import status

    rows = [r for r in status.profile_status("paper") if r.state != "missing"]  # missing: declared, never stored
    assert {r.store.rstrip("/").rsplit("/", 1)[-1] for r in rows if r.state == "stale"} == set(AWAITING_RECOMPUTE)
    assert {r.state for r in rows if r.store.rstrip("/").rsplit("/", 1)[-1] not in AWAITING_RECOMPUTE} == {"current"}
    assert {"02 OT alignment", "03 headline", "04 hybrid grid", "05 language sweep"} <= {r.part for r in rows}
    assert all(r.minutes and r.minutes > 0 for r in rows)


def test_status_says_stale_with_what_changed_and_missing(tmp_path, monkeypatch, capsys):
    from otclir import cli

    for name in ("02_ot_alignment", "03_distillation_training"):
        shutil.copytree(project_root() / "results" / "paper" / name, tmp_path / "paper" / name)
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    code = tmp_path / "paper" / "02_ot_alignment" / "code.json"
    recorded = json.loads(code.read_text())
    recorded["code"] = "0" * 16
    recorded["units"]["otclir.transport.ot:sinkhorn"] = "0" * 16
    code.write_text(json.dumps(recorded))
    cli.main(["status", "--profile", "paper", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    by_store = {row["store"]: row for row in report["parts"]}
    assert set(report["parts"][0]) >= {"part", "store", "state", "minutes"}
    assert by_store["02_ot_alignment"]["state"] == "stale"
    assert by_store["02_ot_alignment"]["changes"] == ["otclir.transport.ot:sinkhorn changed"]
    assert by_store["03_distillation_training"]["state"] == "current"
    assert by_store["04_hybrid_batch_ablations"]["state"] == "missing"
    assert report["stale_minutes"] == by_store["02_ot_alignment"]["minutes"] > 0
    cli.main(["status", "--profile", "paper"])
    text = capsys.readouterr().out
    assert "02_ot_alignment is stale: 1 change(s)\n  otclir.transport.ot:sinkhorn changed" in text
    assert f"{len(report['missing'])} missing" in text and "04_hybrid_batch_ablations" in report["missing"]


def test_status_says_stale_where_the_profile_declares_other_settings(tmp_path, monkeypatch):
    from otclir.experiments.alignment_results import AlignmentStore
    from otclir.runner import declared_settings
    from otclir.status import store_state

    shutil.copytree(project_root() / "results" / "paper" / "02_ot_alignment", tmp_path / "paper" / "02_ot_alignment")
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    declared = declared_settings("paper")["02_ot_alignment"]
    store = AlignmentStore("paper")
    assert store_state(store, declared) == ("current", [])
    key = next(k for k, v in declared.items() if isinstance(v, int) and not isinstance(v, bool))
    state, changes = store_state(store, {**declared, key: declared[key] + 1})
    assert state == "stale" and changes == [f"setting {key}: stored {declared[key]!r}, declared {declared[key] + 1!r}"]
