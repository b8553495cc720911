"""Optimal transport and word alignment: the batched, masked Sinkhorn solver (``ot``), OPTICAL's
loss and InfoNCE (``losses``), plans read as word alignments against gold (``alignment``), and
IBM Model 1 / fast_align-style alignment (``statistical_alignment``)."""
