"""Training: the shared loop with resume, DDP and dev selection, and the distillation objectives
(``trainer``); contrastive training with hybrid batches (``hybrid``). Both run under torchrun."""
