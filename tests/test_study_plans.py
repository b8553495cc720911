"""Before and after distillation: the recipe study's plan diagnostics per plan source, read from its
training logs, say whether a plan moved and whether its word alignment got better."""
import pandas as pd
import pytest

from otclir.evaluation.distillation_training import plan_quality_lines, study_plan_quality


def study():
    points = pd.DataFrame([
        {"config": "ot plan=adaptive lr=0.0001 eps=0.1", "objective": "ot", "plan": "adaptive", "lr": 1e-4, "step": 0},
        {"config": "ot lr=0.0001 eps=0.1", "objective": "ot", "plan": "fixed", "lr": 1e-4, "step": 0},
        {"config": "sentence_mse lr=0.0001", "objective": "sentence_mse", "plan": None, "lr": 1e-4, "step": 0}])
    logs = []
    for step in (0, 10, 20):
        logs.append({"config": "ot plan=adaptive lr=0.0001 eps=0.1", "step": step, "plan_aer": 0.6 - 0.01 * step,
                     "probe_plan_entropy": 0.3, "plan_shift": 0.01 * step})
        logs.append({"config": "ot lr=0.0001 eps=0.1", "step": step, "plan_aer": 0.5, "probe_plan_entropy": 0.2,
                     "plan_shift": 0.0})
        logs.append({"config": "sentence_mse lr=0.0001", "step": step, "loss": 1.0})
        logs.append({"config": "ot lr=0.0001 eps=0.1", "step": step, "loss": 2.0})  # a training step: no diagnostics
    return pd.DataFrame(logs), points


def test_each_ot_point_gets_its_plan_at_the_start_and_the_end_of_training():
    table = study_plan_quality(*study())
    assert list(table.index) == [("adaptive", 1e-4), ("fixed", 1e-4)]  # the point without a plan is left out
    adaptive = table.loc[("adaptive", 1e-4)]
    assert adaptive["AER at start"] == pytest.approx(0.6) and adaptive["AER at end"] == pytest.approx(0.4)
    assert adaptive["shift (TV) at end"] == pytest.approx(0.2) and adaptive.steps == 20
    assert table.loc[("fixed", 1e-4), "AER at end"] == pytest.approx(0.5)
    adaptive_line, fixed_line = plan_quality_lines(table)
    assert adaptive_line == ("adaptive plan: it moved in training (total-variation shift 0.200 by the last step), and "
                             "its AER on the gold went from 0.600 to 0.400, better.")
    assert fixed_line == "fixed plan: it does not move in training (AER 0.500 throughout), by construction."
    logs, points = study()
    assert study_plan_quality(logs[logs.config.str.startswith("sentence")], points).empty
