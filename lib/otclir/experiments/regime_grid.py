"""Notebook 04's hybrid grid again in the regime where alpha can matter, chosen by the regime probe.

The grid's own regime (eight of twelve layers frozen, learning rate 2e-5) moves cross-lingual
retrieval by at most 0.0005 AP whatever alpha is, so the hybrid question is asked where one
strategy dominates. The regime probe (:mod:`otclir.experiments.hybrid_regime`) trains the two
single strategies per frozen-layer count and learning rate and names the cheapest setting whose
dev gap reaches its margin; this grid runs there, over a finer alpha grid, with one dev sample for
every seed, the training-free merges of the multilingual pool evaluated beside the trained
students, and the language-fairness measures at the top of the ranking.

It is the notebook's grid with what ``regime_grid`` declares put over it: its own ``grid_name``
and ``alphas``, training settings (the probe's choice of ``frozen_layers`` and ``lr``, a fixed
``dev_seed``) and evaluation settings. Its results go to a store of their own (:data:`STORE`), its
finished configurations are staged there while a computation spans sessions, and it evaluates its
own untrained student (its evaluation differs from the grid's).
"""
from __future__ import annotations

from dataclasses import dataclass

from otclir.errors import OtclirError
from otclir.experiments.ablation import AblationGrid, HybridParameters
from otclir.experiments.results import ResultStore
from otclir.settings import Settings, each, mapping, number, setting, text

NOTEBOOK = "04_hybrid_batch_ablations"
STORE = f"{NOTEBOOK}.regime_grid"  # results/<profile>/<STORE>/
CHOSEN = ("frozen_layers", "lr")  # the training settings the regime probe chooses


@dataclass
class RegimeGridSettings(Settings):
    """What the regime grid puts over notebook 04's grid (the ``regime_grid`` mapping)."""

    WHAT = "regime_grid setting"

    grid_name: str = setting(check=text())  # configurations go to outputs/ablation/<grid_name>/
    alphas: list[float] = setting(factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0],
                                  check=each(number(0, 1, says="is a probability in [0, 1]"), distinct=True))
    training: dict = setting(factory=dict, check=mapping())  # over the grid's training settings
    evaluation: dict = setting(factory=dict, check=mapping())  # over the grid's evaluation settings

    @classmethod
    def from_dict(cls, values):
        if isinstance(values, dict) and "grid_name" not in values:
            raise OtclirError("regime_grid lacks grid_name; it names grid_name and optionally alphas, training "
                              "(frozen_layers, lr, dev_seed, ...) and evaluation (settings, ...)")
        return super().from_dict(values)

    def __post_init__(self):
        super().__post_init__()
        missing = [name for name in CHOSEN if name not in self.training]
        if missing:
            raise OtclirError(f"regime_grid's training lacks {', '.join(missing)}: the setting the regime probe "
                              "chose (`otclir hybrid-regime` prints it)")


@dataclass
class RegimeGridParameter(Settings):
    """Notebook 04's ``regime_grid`` parameter: None, or a :class:`RegimeGridSettings` mapping."""

    WHAT = "notebook 04 setting"

    regime_grid: dict | None = setting(None, check=mapping(none=True))

    def __post_init__(self):
        super().__post_init__()
        if self.regime_grid is not None:
            RegimeGridSettings.from_dict(self.regime_grid)


def regime_grid(parameters: HybridParameters, declared: dict) -> AblationGrid:
    """The grid of ``parameters`` with what ``declared`` (a :class:`RegimeGridSettings` mapping)
    puts over it."""
    regime = RegimeGridSettings.from_dict(declared)
    grid = parameters.grid()
    if regime.grid_name == grid.name:
        raise OtclirError(f"regime_grid's grid_name {regime.grid_name!r} is the grid's own; give it a name of its own "
                          "so its configurations get a folder of their own")
    return AblationGrid.from_dict({"name": regime.grid_name, "alphas": regime.alphas, "ot_weights": grid.ot_weights,
                                   "budgets": grid.budgets, "seeds": grid.seeds,
                                   "training": {**grid.training, **regime.training},
                                   "evaluation": {**grid.evaluation, **regime.evaluation}})


def check_probe_choice(declared: dict, choice: dict | None) -> None:
    """Refuse a declared regime other than the one the stored probe chose (``choice``: what
    :func:`otclir.experiments.hybrid_regime.choose_setting` returns)."""
    if choice is None:
        raise OtclirError("the stored regime probe finds no setting where alpha 0 and 1 differ by its margin; "
                          "a regime grid has nowhere to run")
    training = RegimeGridSettings.from_dict(declared).training
    wanted = {name: training[name] for name in CHOSEN}
    chosen = {name: choice[name] for name in CHOSEN}
    if any(float(wanted[name]) != float(chosen[name]) for name in CHOSEN):
        raise OtclirError(f"regime_grid declares {wanted}, but the stored regime probe chose {chosen}; declare the "
                          "probe's choice in the profile")


class RegimeGridStore(ResultStore):
    """The regime grid's results: ``results/<profile>/<STORE>/``."""

    def __init__(self, profile: str):
        super().__init__(profile, STORE)


def compute(parameters: HybridParameters, declared: dict, profile: str, log=print, workers: int = 1) -> dict:
    """Train (or resume), evaluate and store the regime grid, after checking that its regime is the
    one the stored probe chose (when a probe is stored); configurations staged by an earlier
    session are restored first and each one is staged as it finishes."""
    from otclir.experiments import grid_parts, hybrid_regime

    grid = regime_grid(parameters, declared)
    if ResultStore(profile, hybrid_regime.STORE).exists():
        probe = hybrid_regime.load(profile)
        check_probe_choice(declared, hybrid_regime.choose_setting(hybrid_regime.gaps(probe["configurations"]),
                                                                  probe["settings"].margin))
    return grid_parts.store_staged(grid, RegimeGridStore(profile), profile, log=log, workers=workers)
