"""A cross-model teacher's students as stored parts: trained, tested through their learned map on
both tasks and scorers with dev-selected and final weights, keyed on the code they run (apart from
the self-teacher's parts), and the untrained closed-form map as a part of its own."""
import pytest

from otclir.experiments import code_reach, student_parts, teacher_parts
from otclir.experiments.student_parts import StudentEvaluation
from otclir.training.cross_teacher import CrossTeacherConfig

CONFIG = dict(language="tl", objective="ot", train_pairs=8, steps=2, batch_size=4, max_length=24, eval_every=1,
              checkpoint_every=1, dev_queries=5, dev_docs=20, balance_batches=1, epsilon=0.1)
EVALUATION = dict(tasks=["crossref", "topical"], scorers=["mean", "maxsim"], rerank_depth=10, test_queries=5,
                  test_docs=20)


@pytest.fixture
def roots(tmp_outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    return tmp_path


@pytest.mark.slow
@pytest.mark.cost(90)
def test_a_cross_teacher_part_is_tested_through_its_map_and_runs_only_what_its_key_covers(roots):
    config, evaluation = CrossTeacherConfig(**CONFIG), StudentEvaluation(**EVALUATION)
    ran, folder = code_reach.traced_units(teacher_parts.compute_part, config, evaluation)
    assert folder == teacher_parts.part_folder(config, evaluation) and student_parts.is_finished(folder)
    assert folder.parent.name == "teacher_students"
    assert {"otclir.training.cross_teacher:CrossTeacherDistiller.states_of",
            "otclir.retrieval.linear_map:mapped_runs"} <= ran
    assert sorted(ran - code_reach.library_index().reach(teacher_parts.ENTRY)) == []
    part = student_parts.read_part(folder)
    rows = part["perquery"]
    assert set(rows.weights) == {"dev-selected", "final"} and set(rows.task) == {"crossref", "topical"}
    assert set(rows.scorer) == {"mean", "maxsim"} and set(rows.system) == {"distill-ot@8"}
    assert rows.groupby(["weights", "task", "scorer"]).size().eq(5).all() and rows.AP.between(0, 1).all()
    assert set(rows.teacher) == {"minilm-teacher"} and part["record"]["selection"]["trained_steps"] == 2
    # the self-teacher's parts are keyed on other code: a change to the cross teacher leaves them current
    assert "otclir.training.cross_teacher:CrossTeacherDistiller.states_of" not in \
        code_reach.library_index().reach(student_parts.ENTRY)


@pytest.mark.slow
@pytest.mark.cost(60)
def test_the_untrained_map_is_a_part_beside_the_students(roots):
    config, evaluation = CrossTeacherConfig(**CONFIG), StudentEvaluation(**{**EVALUATION, "scorers": ["mean"]})
    folder = teacher_parts.compute_ridge_part(config, evaluation)
    part = student_parts.read_part(folder)
    assert set(part["perquery"].system) == {teacher_parts.RIDGE} and set(part["perquery"].weights) == {"untrained"}
    assert part["record"]["selection"] == {"trained_steps": 0, "selected_step": 0, "train_pairs": 8}
    assert folder != teacher_parts.part_folder(config, evaluation)


@pytest.mark.slow
@pytest.mark.cost(90)
def test_a_plan_with_a_cross_model_teacher_stores_its_baseline_and_students_apart(roots):
    from otclir.experiments import student_plan
    from otclir.experiments.student_plan import StudentPlan

    plan = StudentPlan.from_dict({
        "teacher": "minilm-teacher", "languages": ["tl"], "objectives": ["ot"], "budgets": [16], "epochs": [1.0],
        "seeds": [0], "lrs": [1e-4], "checks": 8, "dev_queries": 5, "dev_docs": 20,
        "training": {"batch_size": 4, "max_length": 24, "balance_batches": 1, "epsilon": 0.1},
        "evaluation": {"tasks": ["crossref"], "scorers": ["mean"], "test_queries": 5, "test_docs": 20}})
    assert [kind for kind, _ in student_plan.planned_configs(plan)] == ["baseline", "recipe"]
    assert student_plan.planned_count(plan) == 2
    record = student_plan.compute(plan, log=lambda message: None)
    assert len(record["computed"]) == 2 and record["stored"] == 2
    assert {p.name.split("-")[0] for p in teacher_parts.teacher_parts_root().iterdir()} == {"tl"}
    assert not student_parts.parts_root().exists()  # nothing among the self-teacher's parts
    from otclir import status

    rows = status._plan_rows(plan)
    assert [(r.part.split()[1], r.state) for r in rows] == [("baseline", "current"), ("recipe", "current")]
    assert all(r.store.startswith("parts/teacher_students/tl-ot-16-s0-") and r.minutes is not None for r in rows)
    tables = student_plan.collect(plan)
    assert len(tables["students"]) == 1 and tables["students"].kept.all()
    assert set(tables["per_query"].system) == {teacher_parts.RIDGE, "distill-ot@16"}
    from otclir.evaluation import student_answers

    table = student_answers.ot_against(student_answers.kept_students(tables)["per_query"], against="ridge map")
    assert list(table.language) == ["tl"] and table.seeds.tolist() == [1] and table.queries.tolist() == [5]
    with pytest.raises(Exception, match="teacher"):
        StudentPlan.from_dict({**plan.to_record(), "training": {"teacher": "minilm-teacher"}})
