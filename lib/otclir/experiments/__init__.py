"""What the notebooks run end to end: results folders with provenance (``results``), corpus
statistics (``exploration``, 01), the systems of the distillation comparison (``systems``), the
recipe study (``recipe_study``) and the whole of notebook 03 (``distillation``), the hybrid-batch
grid (``ablation``, 04)."""
