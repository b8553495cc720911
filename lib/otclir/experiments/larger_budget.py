"""Notebook 04's hybrid grid again at a larger training budget, to ask the hybrid question where the
dev curves have flattened as well as at the grid's own budget.

The larger grid is the notebook's grid with the same alphas, lambdas, seeds, languages, learning
rate and evaluation, and four things changed: the training pairs, the steps, how often dev checks
run and how often a checkpoint is written (``larger_budget`` in notebook 04's parameters). Its
configurations are computed by the same code as the grid's (their records carry that code's
fingerprint), its results go to a store of their own (:data:`STORE`) and its finished
configurations are staged there while a recomputation spans sessions. It has no untrained
reference of its own: the untrained student is the grid's.
"""
from __future__ import annotations

from dataclasses import dataclass

from otclir.errors import OtclirError
from otclir.experiments.ablation import AblationGrid, HybridParameters
from otclir.experiments.results import ResultStore
from otclir.settings import Settings, mapping, setting, text, whole

NOTEBOOK = "04_hybrid_batch_ablations"
STORE = f"{NOTEBOOK}.larger_budget"  # results/<profile>/<STORE>/


@dataclass
class BudgetGrid(Settings):
    """What the larger budget changes (the ``larger_budget`` mapping)."""

    WHAT = "larger_budget setting"

    grid_name: str = setting(check=text())  # configurations go to outputs/ablation/<grid_name>/
    steps: int = setting(check=whole(1))
    eval_every: int = setting(check=whole(1))
    checkpoint_every: int = setting(check=whole(1))
    train_pairs: int | None = setting(None, check=whole(1, none=True))  # None: every training pair

    @classmethod
    def from_dict(cls, values):
        missing = [name for name in ("grid_name", "steps", "eval_every", "checkpoint_every")
                   if isinstance(values, dict) and name not in values]
        if missing:
            raise OtclirError(f"larger_budget lacks {', '.join(missing)}; it names grid_name, steps, eval_every, "
                              "checkpoint_every and optionally train_pairs (None: every training pair)")
        return super().from_dict(values)


@dataclass
class LargerBudget(Settings):
    """Notebook 04's ``larger_budget`` parameter: None, or a :class:`BudgetGrid` mapping."""

    WHAT = "notebook 04 setting"

    larger_budget: dict | None = setting(None, check=mapping(none=True))

    def __post_init__(self):
        super().__post_init__()
        if self.larger_budget is not None:
            BudgetGrid.from_dict(self.larger_budget)


def larger_grid(parameters: HybridParameters, larger: dict) -> AblationGrid:
    """The grid of ``parameters`` at the budget ``larger`` declares (a :class:`BudgetGrid` mapping)."""
    budget = BudgetGrid.from_dict(larger)
    grid = parameters.grid()
    if budget.grid_name == grid.name:
        raise OtclirError(f"larger_budget's grid_name {budget.grid_name!r} is the grid's own; give it a name of its own "
                          "so its configurations get a folder of their own")
    if len(grid.budgets) != 1:
        raise OtclirError(f"a larger budget is added to a grid of one budget; this grid has {grid.budgets}")
    if grid.training.get("steps", 0) >= budget.steps:
        raise OtclirError(f"larger_budget's steps ({budget.steps}) must be more than the grid's "
                          f"({grid.training.get('steps')})")
    training = {**grid.training, "steps": budget.steps, "eval_every": budget.eval_every,
                "checkpoint_every": budget.checkpoint_every}
    return AblationGrid.from_dict({"name": budget.grid_name, "alphas": grid.alphas, "ot_weights": grid.ot_weights,
                                   "budgets": [budget.train_pairs], "seeds": grid.seeds, "training": training,
                                   "evaluation": grid.evaluation, "baseline": False})


class LargerBudgetStore(ResultStore):
    """The larger grid's results: ``results/<profile>/<STORE>/``, fingerprinted by the code that
    computes notebook 04's grid (the same code computes both)."""

    def __init__(self, profile: str):
        super().__init__(profile, STORE)


def compute(parameters: HybridParameters, larger: dict, profile: str, log=print, workers: int = 1) -> dict:
    """Train (or resume), evaluate and store the larger-budget grid alone, staged as it goes
    (:func:`otclir.experiments.grid_parts.store_staged`); the grid's own results are not touched."""
    from otclir.experiments import grid_parts

    return grid_parts.store_staged(larger_grid(parameters, larger), LargerBudgetStore(profile), profile, log=log,
                                   workers=workers)
