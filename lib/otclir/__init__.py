"""otclir: optimal-transport distillation and hybrid batches for low-resource CLIR.

Modules follow the data flow: packages -> bible/languages -> splits -> tasks
(trec, external) -> models/encoder -> (training, evaluation) -> plots; runner
and cli drive the notebooks.
"""
__version__ = "0.1.0"
