"""The public API: the functions a researcher takes into their own training and evaluation.

:data:`PUBLIC` names them by module; ``docs/api.md`` describes them, and
``tests/test_api_walk.py`` walks every one with generated bad arguments (each must be refused with
an :class:`~otclir.errors.OtclirError`, never a raw numpy, scipy or torch error, never a NaN
answer). A function added here is walked without a new test: the walk takes its valid arguments
from the function's own doctest, which every public function must have.
"""
from __future__ import annotations

import importlib

PUBLIC = {
    "otclir.transport.ot": ("sinkhorn", "scale_cost", "plan_diagnostics", "exact_transport", "pad_costs"),
    "otclir.transport.losses": ("cosine_cost", "squared_euclidean_cost", "optical_loss", "info_nce",
                                "alignment_and_uniformity"),
    "otclir.evaluation.stats": ("paired_t_test", "randomization_test", "bootstrap_ci", "correct",
                                "percentile_interval", "bootstrap_p", "effect_size", "two_level_bootstrap",
                                "compare_to_baseline", "seed_matrix", "paired_bootstrap_ci", "gap_share_interval"),
    "otclir.evaluation.compare": ("significance", "system_name"),
    "otclir.evaluation.equivalence": ("standard_error", "tost", "detectable_difference"),
    "otclir.evaluation.power": ("detectable_difference", "minimum_detectable_effect", "family_level",
                                "two_level_standard_error"),
    "otclir.evaluation.language_fairness": ("rank_distance", "top_shares", "share_skew", "peer"),
    "otclir.evaluation.retrieval_settings": ("merged_scores",),
    "otclir.retrieval.measures": ("evaluate", "per_query"),
    "otclir.retrieval.linear_map": ("fit_map", "apply_map"),
    "otclir.data.trec": ("write_run", "write_qrels", "write_tsv", "ranked"),
    "otclir.data.bible": ("parse_verse_id",),
    "otclir.samplers": ("language_pairs",),
}


def public_functions() -> dict[str, object]:
    """Every public function by its dotted name (``otclir.transport.ot.sinkhorn``)."""
    found = {}
    for module_name, names in PUBLIC.items():
        module = importlib.import_module(module_name)
        for name in names:
            found[f"{module_name}.{name}"] = getattr(module, name)
    return found
