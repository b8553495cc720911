"""Every store of computed results a profile's notebooks read, by folder name: what ``otclir
status``, the summary and the wall-time table walk."""
from __future__ import annotations

from otclir.paths import PAPER_PROFILE


def stored_results(profile: str = PAPER_PROFILE) -> dict:
    """Each store of ``profile`` (``results/<profile>/<name>/``) by name, in notebook order."""
    from otclir.experiments.alignment_results import AlignmentStore
    from otclir.experiments.hybrid_regime import STORE as REGIME
    from otclir.experiments.language_sweep import SweepStore
    from otclir.experiments.larger_budget import LargerBudgetStore
    from otclir.experiments.regime_grid import RegimeGridStore
    from otclir.experiments.results import ResultStore

    return {"02_ot_alignment": AlignmentStore(profile),
            "03_distillation_training": ResultStore(profile, "03_distillation_training"),
            "03_distillation_training.languages": SweepStore(profile),
            "04_hybrid_batch_ablations": ResultStore(profile, "04_hybrid_batch_ablations"),
            "04_hybrid_batch_ablations.larger_budget": LargerBudgetStore(profile),
            REGIME: ResultStore(profile, REGIME),
            "04_hybrid_batch_ablations.regime_grid": RegimeGridStore(profile)}
