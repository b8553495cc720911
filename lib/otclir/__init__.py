"""otclir: optimal-transport distillation and hybrid batches for low-resource CLIR.

Modules follow the data flow, each importing only from the rows above it:

- installed data: ``packages`` (pinned data-only packages), ``paths``, ``errors``
- texts and tasks: ``bible``, ``languages``, ``splits``, ``tasks`` (retrieval tasks, bitext pairs),
  ``trec`` (TREC files), ``external`` (ir_datasets collections), ``exploration``, ``licence``
- models: ``models`` (model ids, the student's rebuild from its 4-bit container), ``encoder``,
  ``tokenization``
- transport and word alignment: ``ot`` (batched Sinkhorn, cost scaling, plan diagnostics),
  ``losses`` (OPTICAL's loss, InfoNCE), ``alignment`` (plans against gold word alignments),
  ``statistical_alignment`` (IBM Model 1 / fast_align-style EM), ``dictionary`` (BM25 with
  dictionary query translation)
- training: ``training`` (the shared loop, distillation objectives), ``hybrid`` (contrastive
  training with hybrid batches)
- evaluation: ``evaluation`` (dense retrieval, measures), ``late_interaction`` (MaxSim),
  ``stats`` (paired tests, intervals, corrections), ``report`` (significance tables)
- experiments: ``experiments`` (the systems of the distillation comparison), ``recipe_study``,
  ``distillation_experiment`` (study and headline, end to end), ``robustness`` and ``ablation``
  (the hybrid-batch grid), ``results`` (results folders with provenance)
- presentation and driving: ``plots``, ``runner`` (papermill), ``cli`` (the ``otclir`` command)
"""
__version__ = "0.1.0"
