"""otclir: optimal-transport distillation and hybrid batches for low-resource CLIR.

One folder per stage of the data flow; a module imports only from its own stage or the ones
before it (``paths`` and ``errors`` from anywhere):

- ``data``: pinned data-only packages, languages, Bibles, splits, TREC files, retrieval tasks
  and their sampling, ir_datasets collections, licences
- ``models``: model ids, the student rebuilt from its 4-bit container, encoders, tokenizers
- ``transport``: the batched Sinkhorn solver, OPTICAL's loss and InfoNCE, word alignment from
  plans and from IBM Model 1
- ``retrieval``: dense and late-interaction (MaxSim) retrieval, BM25 with dictionary query
  translation, measures
- ``training``: the shared training loop and distillation objectives; hybrid-batch contrastive
  training
- ``evaluation``: paired tests and intervals, evaluation across settings, the readings of the
  hybrid grid (notebook 04) and of the distillation comparison (notebook 05)
- ``experiments``: what each notebook runs end to end, with results folders and provenance
- top level: ``plots`` and ``tables`` (figures and tables for papers), ``runner`` (papermill),
  ``cli`` (the ``otclir`` command)
"""
__version__ = "0.1.0"
