"""The settings of a training run: what every trainer shares (:class:`TrainConfig`), distillation
on bitext (:class:`DistillConfig`) and contrastive training with hybrid batches
(:class:`ContrastiveConfig`). Every value is checked when a configuration is made, before
anything is read or trained; a run's folder name and its stored record come from
:meth:`~otclir.settings.Settings.to_record`."""
from __future__ import annotations

from dataclasses import dataclass

from otclir.data.languages import check_languages
from otclir.data.tasks import BIBLE_TASKS
from otclir.errors import OtclirError
from otclir.retrieval.dense import DEV_SIGNALS
from otclir.settings import Settings, choice, each, flag, number, positive, probability, setting, text, whole
from otclir.transport.objectives import OBJECTIVES
from otclir.transport.ot import COST_SCALES
from otclir.transport.plan_sources import PLANS


_epsilon = positive
_cost_scale = choice(COST_SCALES, "scales")
_plan_layer = whole(0, none=True, says="a layer number (0 = embeddings) or None")
_frozen_layers = whole(0, says="0 or more")
_select_by = choice(DEV_SIGNALS, "dev signals")


@dataclass
class TrainConfig(Settings):
    """Settings every training objective shares: the student, optimisation, transport, dev checks."""

    WHAT = "training setting"

    student: str = setting("e5-small-student", check=text())  # trained
    teacher: str = setting("e5-small-student", check=text())  # frozen; reads the English side where an objective needs it
    steps: int = setting(300, check=whole(1))
    batch_size: int = setting(16, check=whole(1))
    grad_accum: int = setting(1, check=whole(1))
    lr: float = setting(2e-5, check=positive)
    warmup: float = setting(0.1, check=number(0, 1, says="is a share of the steps in [0, 1]"))  # rising learning rate
    weight_decay: float = setting(0.01, check=number(0))
    max_length: int = setting(64, check=whole(1))  # tokens a text is cut to in training and dev checks
    epsilon: float = setting(0.05, check=_epsilon)
    sinkhorn_iters: int = setting(50, check=whole(1))
    # "std": the plan's cost divided by its spread per item (see otclir.transport.ot.scale_cost)
    cost_scale: str = setting("none", check=_cost_scale)
    plan_layer: int | None = setting(None, check=_plan_layer)  # hidden layer whose token states give the plan (None: the last)
    detach_plan: bool = setting(True, check=flag())
    drop_special: bool = setting(True, check=flag())
    drop_punctuation: bool = setting(False, check=flag())
    freeze_embeddings: bool = setting(True, check=flag())
    frozen_layers: int = setting(0, check=_frozen_layers)  # lowest transformer layers kept at the base weights
    eval_every: int = setting(100, check=whole(0, says="a whole number, 0 for no dev evaluation"))
    eval_at_start: bool = setting(True, check=flag())  # evaluate the untrained student too: the best model may be no training
    select_by: str = setting("dev_AP", check=_select_by)  # the dev signal that picks the best step
    dev_task: str = setting("crossref", check=choice(BIBLE_TASKS, "tasks"), added="crossref")  # of dev_AP, dev_nDCG@10
    dev_queries: int = setting(200, check=whole(1))
    dev_docs: int | None = setting(1000, check=whole(1, none=True))
    patience: int | None = setting(None, check=whole(1, none=True, says="at least 1 evaluation, or None"))
    keep_evaluated: bool = setting(False, check=flag())  # also save the student of every dev evaluation (step-<n>/)
    checkpoint_every: int = setting(100, check=whole(1))
    seed: int = setting(0, check=whole(0))
    # the dev queries' and documents' sample (None: ``seed``): students trained with other seeds
    # keep one dev sample, so their dev signals compare
    dev_seed: int | None = setting(None, check=whole(0, none=True), added=None)

    @property
    def dev_sample_seed(self) -> int:
        return self.seed if self.dev_seed is None else self.dev_seed

    def trainer_class(self) -> type:
        raise NotImplementedError


@dataclass
class DistillConfig(TrainConfig):
    language: str = setting("sw", check=text())
    objective: str = setting("ot", check=choice(OBJECTIVES, "objectives"))
    query_language: str = setting("en", check=text())
    train_pairs: int | None = setting(2000, check=whole(1, none=True))  # budget: verse pairs drawn from the train split
    # a TSV file of (English, target) pairs instead of the Bible's train split
    bitext: str | None = setting(None, check=text(none=True), added=None)
    max_length: int = setting(128, check=whole(1))  # whole verses: longer than 128 tokens on a side in <0.2% of pairs
    epsilon: float = setting(0.3, check=_epsilon)
    cost_scale: str = setting("std", check=_cost_scale)
    # where the transport plan comes from (otclir.transport.plan_sources); runs stored before the
    # setting existed had the fixed plan
    plan: str = setting("adaptive", check=choice(PLANS, "plan sources"), added="fixed")
    plan_layer: int | None = setting(None, check=_plan_layer)  # None: the plan source's own layer
    frozen_layers: int = setting(8, check=_frozen_layers)
    select_by: str = setting("dev_bitext_MRR", check=_select_by)
    temperature: float = setting(0.05, check=positive)  # of the InfoNCE term
    ot_weight: float = setting(1.0, check=positive)
    mse_weight: float = setting(1.0, check=positive)
    contrastive_weight: float = setting(1.0, check=positive)
    balance_losses: bool = setting(True, check=flag())  # equal gradient norms of the terms on the first batches
    balance_batches: int = setting(4, check=whole(1))
    bucket_batches: bool = setting(True, check=flag())  # batches of verses of similar length

    def __post_init__(self):
        super().__post_init__()
        check_languages([self.language, self.query_language])
        if self.language == self.query_language:
            raise OtclirError(f"language and query_language are both '{self.language}': a student learns a language "
                              "other than the one the teacher reads (the queries' language)")
        if self.train_pairs is not None and self.train_pairs < self.batch_size:
            raise OtclirError(f"train_pairs ({self.train_pairs}) cannot fill a batch of {self.batch_size}")
        if self.plan == "fixed" and not self.frozen_layers:
            raise OtclirError("a fixed plan is solved on frozen states: set frozen_layers (8 by default)")
        if self.plan == "fixed" and self.plan_layer is not None and self.plan_layer > self.frozen_layers:
            raise OtclirError(f"a fixed plan is solved on frozen states: plan_layer ({self.plan_layer}) must be at most "
                              f"frozen_layers ({self.frozen_layers})")
        if self.plan == "adaptive" and self.plan_layer is not None and self.plan_layer <= self.frozen_layers:
            raise OtclirError(f"an adaptive plan is solved on the student's trained states: plan_layer ({self.plan_layer}) "
                              f"must be above frozen_layers ({self.frozen_layers}), or None for the last layer")
        if self.plan == "statistical" and self.plan_layer is not None:
            raise OtclirError("a statistical plan comes from word alignments, not from a layer: leave plan_layer None")

    @property
    def plan_states_layer(self) -> int | None:
        """The layer whose states the plan is solved on: None for the loss's own (last) layer, and
        for the statistical plan, which solves nothing."""
        if self.plan == "fixed":
            return self.frozen_layers if self.plan_layer is None else self.plan_layer
        return self.plan_layer if self.plan == "adaptive" else None

    @property
    def terms(self) -> tuple[str, ...]:
        return OBJECTIVES[self.objective]

    def trainer_class(self) -> type:
        from otclir.training.distillation import Distiller

        return Distiller


@dataclass
class ContrastiveConfig(TrainConfig):
    languages: list[str] = setting(factory=lambda: ["en", "sw", "fr"], check=each(text()))
    alpha: float = setting(0.5, check=probability)  # probability of a monolingual batch
    temperature: float = setting(0.05, check=positive)
    train_pairs: int | None = setting(2000, check=whole(1, none=True))  # (query, cross-reference) pairs, each in every language
    hard_negative: bool = setting(True, check=flag())
    ot_weight: float = setting(0.0, check=number(0, says="0 or more (lambda, the weight of OPTICAL's loss; 0 turns it off)"))
    ot_queries: bool = setting(False, check=flag(), added=False)  # the transport loss on non-English queries too
    bucket_batches: bool = setting(False, check=flag(), added=False)  # batches of pairs of similar length
    # None: Bible cross-references; else an ir_datasets id with {language}
    pairs_collection: str | None = setting(None, check=text(none=True), added=None)

    def __post_init__(self):
        super().__post_init__()
        self.languages = list(check_languages(self.languages))
        if len(set(self.languages)) != len(self.languages) or not self.languages:
            raise OtclirError(f"languages must be distinct and not empty, got {self.languages}")
        if self.alpha < 1 and len(self.languages) < 2:
            raise OtclirError(f"cross-lingual batches (alpha {self.alpha} < 1) need two languages, got {self.languages}")
        if self.ot_weight > 0 and self.languages == ["en"]:
            raise OtclirError("the transport loss needs a language other than English among the languages")

    def trainer_class(self) -> type:
        from otclir.training.hybrid import ContrastiveTrainer

        return ContrastiveTrainer
