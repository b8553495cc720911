"""Ranking and scoring: measures of TREC runs (``measures``), exact dense retrieval and the dev
scores the trainers log (``dense``), MaxSim late interaction (``late_interaction``), BM25 with
dictionary query translation (``dictionary``)."""
