"""Every figure of the compendium in one style (:mod:`otclir.plots.style`), a module per
notebook; functions draw what they are given and nothing more."""
from otclir.plots.ablations import alpha_curves, bias_by_alpha, budget_curves, setting_label
from otclir.plots.alignment import aer_by_epsilon, cost_and_plan, plans_by_epsilon, row_shares
from otclir.plots.distillation import study_grid, training_curves
from otclir.plots.exploration import lengths_by_language, relevance_histogram, tokenizer_bars
from otclir.plots.forest import difference_forest
from otclir.plots.languages import gains_against
from otclir.plots.significance import comparison_text, per_query_differences
from otclir.plots.style import (DOUBLE_COLUMN, SINGLE_COLUMN, TIER_COLOURS, TIER_ORDER, display_name, empty_axes,
                                figure_size, languages_by_tier, pdf_width_inches, save_figure, system_order, type3_fonts,
                                use_style)

__all__ = ["alpha_curves", "bias_by_alpha", "budget_curves", "setting_label", "aer_by_epsilon", "cost_and_plan",
           "plans_by_epsilon", "row_shares", "study_grid", "training_curves", "lengths_by_language",
           "relevance_histogram", "tokenizer_bars", "difference_forest", "gains_against", "comparison_text", "per_query_differences",
           "DOUBLE_COLUMN", "SINGLE_COLUMN", "TIER_COLOURS", "TIER_ORDER", "display_name", "empty_axes", "figure_size",
           "languages_by_tier", "pdf_width_inches", "save_figure", "system_order", "type3_fonts", "use_style"]
