"""Texts, judgments and tasks: pinned data packages (``packages``), languages and Bibles
(``languages``, ``bible``, ``splits``), retrieval tasks and their seeded sampling (``tasks``), TREC
files (``trec``), ir_datasets collections (``external``) and what may be redistributed (``licence``)."""
