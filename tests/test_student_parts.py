"""A trained student as a stored part: computed once, found by its key, checked when read, never
half written; and the plan of the answers' students (recipes chosen on dev, dev curves' ends)."""
import pytest

from otclir.errors import OtclirError
from otclir.experiments import student_parts, student_plan
from otclir.experiments.locks import FolderLock, LockedError
from otclir.experiments.results import DamagedResults
from otclir.experiments.student_parts import StudentEvaluation
from otclir.experiments.student_plan import StudentPlan

TRAINING = {"batch_size": 4, "max_length": 24, "balance_batches": 1}
PLAN = {"languages": ["tl"], "objectives": ["sentence_mse"], "budgets": [16], "epochs": [2.0], "seeds": [0, 1],
        "lrs": [1e-4, 3e-4], "checks": 8, "dev_queries": 8, "dev_docs": 40, "training": TRAINING,
        "evaluation": {"tasks": ["crossref"], "scorers": ["mean"], "test_queries": 8, "test_docs": 40}}


@pytest.fixture
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """The plan's two recipe runs and the second seed at the chosen rate (8 steps each), computed
    once for the tests that read them."""
    root = tmp_path_factory.mktemp("parts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTCLIR_RESULTS", str(root / "results"))
        patch.setenv("OTCLIR_OUTPUTS", str(root / "outputs"))
        plan = StudentPlan.from_dict(PLAN)
        record = student_plan.compute(plan, log=lambda message: None)
    return plan, record, root


@pytest.fixture
def stored(computed, monkeypatch):
    plan, record, root = computed
    monkeypatch.setenv("OTCLIR_RESULTS", str(root / "results"))
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(root / "outputs"))
    return plan, record


def test_a_plan_trains_its_recipes_chooses_on_dev_and_stores_every_student(stored):
    plan, record = stored
    assert len(record["computed"]) == 3 and record["stored"] == 3 and not record["waiting_recipes"]
    tables = student_plan.collect(plan)
    students = tables["students"]
    assert sorted(students.seed) == [0, 0, 1]
    assert set(students.pairs_seen) == {32} and set(students.steps) == {8}  # 2 epochs of 16 pairs, batches of 4
    chosen = student_plan.chosen_lr(plan, "tl", "sentence_mse")
    assert students[students.seed == 1].lr.item() == chosen  # the second seed trains at the rate dev chose
    assert set(students.end) <= {"rising", "falling", "flat"}
    curves = tables["curves"]
    assert curves.groupby("lr").size().min() >= 9  # the untrained student and 8 checks
    assert {"dev_nDCG@10@fold0", "dev_nDCG@10@fold1", "dev_bitext_MRR@fold1"} <= set(curves.columns)
    rows = tables["per_query"]
    assert set(rows.weights) == {"dev-selected", "final"}
    assert rows.groupby(["lr", "seed", "weights"])["query"].nunique().eq(8).all()


def test_a_stored_part_is_found_not_trained_again(stored, monkeypatch):
    plan, _ = stored

    def refuse(*args, **kwargs):
        raise AssertionError("a stored part was trained again")

    monkeypatch.setattr(student_parts, "_train_and_test", refuse)
    assert student_plan.compute(plan)["computed"] == []


def test_a_changed_setting_is_another_part(roots):
    plan = StudentPlan.from_dict(PLAN)
    evaluation = plan.evaluation_settings()
    one, other = student_plan.recipe_runs(plan, "tl", "sentence_mse")
    assert student_parts.part_folder(one, evaluation) != student_parts.part_folder(other, evaluation)
    wider = StudentEvaluation.from_dict({**PLAN["evaluation"], "test_queries": 9})
    assert student_parts.part_folder(one, evaluation) != student_parts.part_folder(one, wider)
    assert student_parts.part_folder(one, evaluation).name.startswith("tl-sentence_mse-16-s0-")


def test_a_changed_file_of_a_part_is_refused_when_read(stored):
    plan, record = stored
    folder = student_parts.parts_root() / record["computed"][0]
    table = folder / "results.csv"
    kept = table.read_text()
    try:
        table.write_text(kept.replace("0.", "1.", 1))
        with pytest.raises(DamagedResults, match="compute it again"):
            student_parts.read_part(folder)
    finally:
        table.write_text(kept)


def test_a_part_another_process_computes_is_refused_and_nothing_is_written(roots):
    plan = StudentPlan.from_dict(PLAN)
    evaluation = plan.evaluation_settings()
    config = student_plan.recipe_runs(plan, "tl", "sentence_mse")[0]
    folder = student_parts.part_folder(config, evaluation)
    lock = FolderLock(folder.with_name(folder.name + ".lock"), folder)
    lock.acquire()
    try:
        with pytest.raises(LockedError):
            student_parts.compute_part(config, evaluation)
    finally:
        lock.release()
    assert not folder.exists() and not folder.with_name(folder.name + ".staging").exists()


def test_a_session_share_stops_between_parts(roots):
    plan = StudentPlan.from_dict(PLAN)
    messages = []
    record = student_plan.compute(plan, minutes=0, log=messages.append)
    assert record["computed"] == [] and "2 part(s) left, the same command resumes" in messages[-1]
    assert [kind for kind, _ in student_plan.planned_configs(plan)] == ["recipe", "recipe", "waits"]


def test_processes_beside_each_other_take_the_parts_the_other_does_not_hold(roots):
    import json
    import os
    import socket

    plan = StudentPlan.from_dict(PLAN)
    evaluation = plan.evaluation_settings()
    held, free = (student_parts.part_folder(c, evaluation) for c in student_plan.recipe_runs(plan, "tl", "sentence_mse"))
    lock = held.with_name(held.name + ".lock")  # as a live process beside this one leaves it
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "now"}))
    messages = []
    record = student_plan.compute(plan, minutes=0.05, log=messages.append, poll=0.1)
    assert record["computed"] == [free.name] and not held.exists()
    assert "1 part(s) left" in messages[-1]  # it waited for the held part, then its share ran out
    with pytest.raises(OtclirError, match="workers"):
        student_plan.compute(plan, workers=0)
    with pytest.raises(OtclirError, match="threads"):
        student_plan.compute(plan, threads=0)


def test_a_rival_waits_for_the_first_objectives_rate_and_then_trains_once_at_it(stored):
    plan, _ = stored
    with_rival = StudentPlan.from_dict({**PLAN, "rivals": ["contrastive"]})
    rows = [(kind, getattr(c, "objective", None), getattr(c, "seed", None), getattr(c, "lr", None))
            for kind, c in student_plan.planned_configs(with_rival)]
    rivals = [row for row in rows if row[1] == "contrastive"]
    assert rivals == [("rival", "contrastive", 0, student_plan.chosen_lr(plan, "tl", "sentence_mse"))]
    assert student_plan.planned_configs(plan) == [row for row in student_plan.planned_configs(with_rival)
                                                  if row[0] != "rival"]  # the objectives' students are unchanged


@pytest.mark.parametrize("change, message", [
    ({"epochs": [2.0, 1.0]}, "one number of epochs per budget"),
    ({"training": {**TRAINING, "lr": 1e-3}}, "training sets 'lr'"),
    ({"checks": 4}, "at least 8 dev checks"),
    ({"epochs": [0.5]}, "at least 1 epoch"),
    ({"objectives": ["kl"]}, "objectives"),
    ({"languages": ["xx-unknown"]}, "xx-unknown"),
    ({"rivals": ["sentence_mse"]}, "both an objective and a rival"),
])
def test_a_plan_is_checked_before_anything_trains(roots, change, message):
    with pytest.raises(OtclirError, match=message):
        StudentPlan.from_dict({**PLAN, **change})


def test_the_chosen_rate_and_the_curve_end_read_dev_only():
    assert student_plan.choose_lr({1e-4: {"dev_nDCG@10": 0.3}, 3e-4: {"dev_nDCG@10": 0.3}}, "dev_nDCG@10") == 1e-4
    with pytest.raises(OtclirError, match="logged no dev_AP"):
        student_plan.choose_lr({1e-4: {"dev_nDCG@10": 0.3}}, "dev_AP")
    with pytest.raises(OtclirError, match="at least two checks"):
        student_plan.curve_end([0.2], 0.002)


def test_the_answers_read_from_the_parts(stored):
    from otclir.evaluation import student_answers

    plan, _ = stored
    tables = student_plan.collect(plan)
    recipes = student_answers.recipes(tables["students"], plan.select_by)
    assert len(recipes) == 1 and recipes.chosen_lr.item() == student_plan.chosen_lr(plan, "tl", "sentence_mse")
    kept = student_answers.kept_students(tables)
    assert sorted(kept["students"].seed) == [0, 1] and kept["students"].lr.nunique() == 1
    agreement = student_answers.fold_agreement(tables["curves"])
    assert {"dev_AP", "dev_nDCG@10", "dev_bitext_MRR"} <= set(agreement.signal)
    assert agreement.agreement.dropna().between(-1, 1).all()
    weights = student_answers.weights_on_test(kept["per_query"])
    assert {"dev-selected", "final"} <= set(weights.columns) and len(weights) == 2
    joined = student_answers.students_with_test(tables)
    assert len(joined) == 3 and {"AP", "final_AP", "dev_nDCG@10", "end"} <= set(joined.columns)
    agreement = student_answers.dev_test_agreement(joined, ["dev_nDCG@10", "dev_bitext_MRR"])
    assert agreement.students.tolist() == [3]


def test_ot_against_sentence_mse_reads_every_budget_the_all_pairs_one_included():
    import numpy as np
    import pandas as pd

    from otclir.evaluation import student_answers

    rng = np.random.default_rng(0)
    rows = []
    for budget, seeds in (("2000", [0, 1, 2]), ("all", [0])):
        for seed in seeds:
            base = rng.uniform(0, 1, 40)
            for objective, shift in (("sentence_mse", 0.0), ("ot", 0.03)):
                for query, value in enumerate(base + shift + rng.normal(0, 0.01, 40)):
                    rows.append({"language": "tl", "objective": objective, "budget": budget, "seed": seed, "lr": 1e-4,
                                 "weights": "dev-selected", "task": "crossref", "scorer": "mean", "query": f"q{query}",
                                 "system": f"distill-{objective}@{budget}", "AP": float(np.clip(value, 0, 1))})
    table = student_answers.ot_against(pd.DataFrame(rows), margin=0.005)
    assert list(table.budget) == [2000, "all"]
    assert table.set_index("budget").loc[2000, "diff"] > 0.02
    assert table.verdict.str.startswith(("different", "undefined", "not shown")).all()
    # a cross-model teacher's untrained map, one run under every seed of the student
    untrained = [{**row, "objective": "none", "seed": 0, "lr": float("nan"), "weights": "untrained",
                  "system": "ridge-map", "AP": row["AP"] - 0.05} for row in rows
                 if row["objective"] == "sentence_mse" and row["seed"] == 0 and row["budget"] == "2000"]
    against = student_answers.ot_against(pd.DataFrame(rows + untrained), against="ridge map", margin=0.005)
    assert list(against.budget) == [2000, "all"] and list(against.seeds) == [3, 1]
    frame = pd.DataFrame(rows)
    ot = frame[(frame.system == "distill-ot@2000")].AP.mean()
    assert against.set_index("budget").loc[2000, "diff"] == pytest.approx(ot - pd.DataFrame(untrained).AP.mean())


def test_the_dev_protocols_agreement_with_test_reads_the_stored_headline():
    """Before the answers' students: dev nDCG@10 ranked the 18 Swahili students against test at
    -0.03 (cross-references, mean pooling); tl kept the untrained weights everywhere (no ranking)."""
    import pandas as pd

    from otclir.evaluation.student_answers import dev_test_agreement
    from otclir.paths import project_root

    results = pd.read_csv(project_root() / "results" / "paper" / "03_distillation_training" / "results.csv")
    table = dev_test_agreement(results[results.system.str.startswith("distill")], ["selected_dev_nDCG@10"])
    sw = table.set_index(["language", "task", "scorer"]).loc[("sw", "crossref", "mean")]
    assert sw.students == 18 and round(sw["selected_dev_nDCG@10"], 2) == -0.03
    assert table[table.language == "tl"]["selected_dev_nDCG@10"].isna().all()
    with pytest.raises(OtclirError, match="lacks dev_nope"):
        dev_test_agreement(results, ["dev_nope"])


def test_the_dev_curves_figure_fits_a_page(stored):
    import matplotlib.pyplot as plt

    from otclir.plots.students import dev_curves
    from otclir.plots.style import empty_axes, layout_problems

    plan, _ = stored
    figure = dev_curves(student_plan.collect(plan)["curves"], "dev_nDCG@10", "tl")
    try:
        assert layout_problems(figure) == [] and empty_axes(figure) == []
        assert figure.axes[0].get_xlabel() == "pairs seen"
    finally:
        plt.close(figure)
    with pytest.raises(OtclirError, match="no dev checks of dev_nDCG@10 for sw"):
        dev_curves(student_plan.collect(plan)["curves"], "dev_nDCG@10", "sw")


def test_otclir_status_lists_every_planned_student(stored, monkeypatch):
    from otclir import runner, status

    plan, _ = stored
    def declaring(students):
        def declared(profile, parameter="students"):
            if parameter != "students":
                raise OtclirError(f"profile '{profile}' declares no {parameter}")
            return students
        return declared

    monkeypatch.setattr(runner, "declared_students", declaring(plan))
    rows = status.student_rows("quick")
    assert [r.state for r in rows] == ["current"] * 3 and all(r.minutes > 0 for r in rows)
    assert [r.part.split()[1] for r in rows] == ["recipe", "recipe", "student"]
    assert "results/parts/students/tl-sentence_mse-16-s" in status.status_text(rows, "quick")
    # a plan whose recipes are not stored yet: the rest waits for them, one row per language and objective
    wider = StudentPlan.from_dict({**PLAN, "lrs": [1e-4, 3e-4, 1e-3]})
    monkeypatch.setattr(runner, "declared_students", declaring(wider))
    assert [r.state for r in status.student_rows("quick")][-1] == "missing"
    assert status.student_rows("quick")[-1].part == "03 students tl sentence_mse (after its recipe)"


def test_the_plans_progress_counts_every_student_it_will_train(stored):
    plan, _ = stored
    assert student_plan.planned_count(plan) == 3  # two recipe runs and the second seed at the chosen rate
    assert student_plan.progress(plan) == {"stored": 3, "planned": 3, "waiting": []}
    bigger = StudentPlan.from_dict({**PLAN, "rivals": ["contrastive"], "budgets": [16, 32], "epochs": [2.0, 1.0],
                                    "later_seeds": [0]})
    assert student_plan.planned_count(bigger) == 2 + 1 + 1 + 1  # recipes, seed 1, the later budget, the rival
    assert student_plan.progress(bigger)["stored"] == 3
