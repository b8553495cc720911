"""Evaluation and statistics: paired tests, bootstrap intervals and corrections (``stats``), one
encoder evaluated monolingual, cross-lingual and multilingual (``settings``), the reading of the
hybrid-batch grid (``grid``, notebook 04), and significance of the distillation comparison
(``significance``, notebook 05 and ``otclir compare``)."""
