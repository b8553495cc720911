"""OPTICAL's transport distillation (Huang et al. 2023) as a sentence-transformers loss.

:class:`OptimalTransportDistillationLoss` is one ``nn.Module`` for
``SentenceTransformerTrainer(model, args, train_dataset, loss=...)``: the model being trained is the
student, which reads the target-language side of each bitext pair; a frozen teacher reads the
English side. The loss is OPTICAL's: the entropic transport plan between the teacher's and the
student's content tokens (no special tokens, no prompt) weighs their cosine cost,
``sum_ij P_ij (1 - cos(t_i, s_j))`` averaged over the batch, optionally with the sentence-level
MSE of Reimers and Gurevych (2020) beside it. It calls the compendium's own
:func:`otclir.transport.losses.optical_loss` and :func:`otclir.transport.ot.sinkhorn`, so a batch
gives the value the compendium's trainer gives it (a test holds the two together).

Data: a dataset of two text columns, English first, then the target language::

    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from otclir.losses import OptimalTransportDistillationLoss

    student = SentenceTransformer("intfloat/multilingual-e5-small")
    teacher = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    pairs = Dataset.from_dict({"english": ["In the beginning ..."], "target": ["Hapo mwanzo ..."]})
    loss = OptimalTransportDistillationLoss(student, teacher, epsilon=0.05, mse_weight=1.0)
    SentenceTransformerTrainer(model=student, train_dataset=pairs, loss=loss).train()

The teacher may use another tokenizer (the English text is decoded from the student's tokens and
tokenized again by the teacher) and another width (a learned linear map from the student's width
to the teacher's lives on the loss and is trained with the student, as sentence-transformers'
``MSELoss(projection_dim=...)`` does).

Plans: ``"adaptive"`` (default) solves the plan on the current cost each step and holds it fixed
in the gradient; ``"fixed"`` solves it on the states of a frozen copy of the untrained student,
so the alignment never moves; a callable ``plan(english_features, target_features)`` returns
plans of shape (batch, teacher tokens, student tokens) from elsewhere (a word aligner), zero
outside the content tokens.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from otclir.errors import OtclirError
from otclir.transport.losses import COSTS, optical_loss
from otclir.transport.ot import COST_SCALES

PLANS = ("adaptive", "fixed")


def _content_mask(tokenizer, input_ids: torch.Tensor, attention_mask: torch.Tensor, skip: int) -> torch.Tensor:
    """Real tokens without special tokens and without the ``skip`` prompt tokens after the first;
    a text left with nothing keeps its real tokens (as :meth:`otclir.models.encoder.Encoder.content_mask`)."""
    special = torch.tensor(sorted(tokenizer.all_special_ids), device=input_ids.device)
    keep = attention_mask.bool() & ~torch.isin(input_ids, special)
    if skip:
        keep[:, 1:1 + skip] = False
    return torch.where(keep.any(1, keepdim=True), keep, attention_mask.bool())


def _mean_pool(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _unwrapped(module):
    """The model inside a data-parallel wrapper (the trainer hands the loss its wrapped model under
    torchrun): its tokenizer and kind are the inner model's, its forward the wrapper's."""
    return module.module if isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else module


def _tokens(module, features: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states and attention mask of a sentence-transformers module or Hugging Face encoder
    (called through a data-parallel wrapper where there is one, so gradients are synchronised)."""
    inner = _unwrapped(module)
    if hasattr(inner, "tokenize") and not hasattr(inner, "get_input_embeddings"):
        out = module(dict(features))
        return out["token_embeddings"], features["attention_mask"]
    out = module(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
    return out.last_hidden_state, features["attention_mask"]


def _tokenizer_of(module):
    return getattr(_unwrapped(module), "tokenizer", None)


def _width_of(module) -> int:
    """The width of a module's token states (a SentenceTransformer's transformer, not its pooled output)."""
    config = getattr(module, "config", None)
    if config is None and hasattr(module, "__getitem__"):
        config = getattr(getattr(module[0], "auto_model", None), "config", None)
    if config is None or not hasattr(config, "hidden_size"):
        raise OtclirError(f"cannot tell the width of {type(module).__name__}'s token states: give a SentenceTransformer "
                          "or a Hugging Face encoder")
    return int(config.hidden_size)


class OptimalTransportDistillationLoss(nn.Module):
    """OPTICAL's token-level transport loss between a frozen English teacher and the student.

    Args:
        model: the student (a ``SentenceTransformer``), trained; it reads the second column.
        teacher: a frozen ``SentenceTransformer`` or Hugging Face encoder with a ``tokenizer``
            attribute; it reads the first column (English).
        epsilon: entropic regularisation of the plan, relative to the cost's spread when
            ``cost_scale`` rescales it (default 0.05).
        max_iter: Sinkhorn iterations (log domain; default 50).
        cost_scale: ``"none"`` (default) or a rescaling of the cost before the plan is solved
            (:data:`otclir.transport.ot.COST_SCALES`).
        plan: ``"adaptive"`` (default), ``"fixed"``, or a callable returning given plans.
        ot_weight: weight of the transport term (default 1).
        mse_weight: weight of the sentence-MSE term between mean-pooled token states (default 0).
        prompt_tokens: tokens after the first that a prompt (e5's ``"passage: "``) takes, left out
            of transport: one number for both sides or (teacher, student) (default 0).

    Returns, from ``forward(sentence_features, labels)``, the weighted sum as a scalar tensor;
    ``last_terms`` holds the last batch's unweighted terms.

    >>> import torch
    >>> from otclir.transport.losses import optical_loss
    >>> teacher = torch.eye(3).unsqueeze(0)                  # three orthogonal teacher tokens
    >>> student = torch.eye(3)[[2, 0, 1]].unsqueeze(0)       # the same tokens, in another order
    >>> mask = torch.ones(1, 3, dtype=torch.bool)
    >>> loss, result = optical_loss(teacher, mask, student, mask, epsilon=0.01, max_iter=200)
    >>> round(float(loss), 4)                                # the plan finds the permutation: no cost
    0.0
    """

    def __init__(self, model, teacher, epsilon: float = 0.05, max_iter: int = 50, cost_scale: str = "none",
                 plan: str | Callable = "adaptive", ot_weight: float = 1.0, mse_weight: float = 0.0,
                 prompt_tokens: int | tuple[int, int] = 0):
        super().__init__()
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise OtclirError(f"epsilon must be a positive number, got {epsilon!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise OtclirError(f"max_iter must be a whole number of at least 1, got {max_iter!r}")
        if cost_scale not in COST_SCALES:
            raise OtclirError(f"cost_scale must be one of {', '.join(COST_SCALES)}, got {cost_scale!r}")
        if not callable(plan) and plan not in PLANS:
            raise OtclirError(f"plan must be one of {', '.join(PLANS)} or a callable that returns plans, got {plan!r}")
        for name, weight in (("ot_weight", ot_weight), ("mse_weight", mse_weight)):
            if not isinstance(weight, (int, float)) or weight < 0:
                raise OtclirError(f"{name} must be 0 or more, got {weight!r}")
        if ot_weight == 0 and mse_weight == 0:
            raise OtclirError("ot_weight and mse_weight are both 0: the loss would train nothing")
        skip = (prompt_tokens, prompt_tokens) if isinstance(prompt_tokens, int) else tuple(prompt_tokens)
        if len(skip) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in skip):
            raise OtclirError(f"prompt_tokens must be a whole number or a (teacher, student) pair, got {prompt_tokens!r}")
        student_tokenizer, teacher_tokenizer = _tokenizer_of(model), _tokenizer_of(teacher)
        if student_tokenizer is None or teacher_tokenizer is None:
            raise OtclirError("the student and the teacher need a `tokenizer` attribute (a SentenceTransformer has one; "
                              "set it on a Hugging Face model)")
        self.model, self.teacher = model, teacher
        self.teacher.requires_grad_(False)
        self.epsilon, self.max_iter, self.cost_scale, self.plan = float(epsilon), max_iter, cost_scale, plan
        self.ot_weight, self.mse_weight, self.prompt_tokens = float(ot_weight), float(mse_weight), skip
        self.same_tokenizer = student_tokenizer.get_vocab() == teacher_tokenizer.get_vocab()
        student_width, teacher_width = _width_of(model), _width_of(teacher)
        # a learned map where the widths differ, trained with the student (as MSELoss's projection)
        self.projection = nn.Linear(student_width, teacher_width) if student_width != teacher_width else None
        self.frozen_student = None
        if plan == "fixed":
            self.frozen_student = copy.deepcopy(model).eval().requires_grad_(False)
        self.last_terms: dict[str, float] = {}

    def _teacher_features(self, english: dict) -> dict:
        if self.same_tokenizer:
            return english
        texts = _tokenizer_of(self.model).batch_decode(english["input_ids"], skip_special_tokens=True)
        features = self.teacher.tokenize(texts) if hasattr(self.teacher, "tokenize") else \
            _tokenizer_of(self.teacher)(texts, padding=True, truncation=True, return_tensors="pt")
        return {k: v.to(english["input_ids"].device) for k, v in features.items() if isinstance(v, torch.Tensor)}

    def forward(self, sentence_features, labels=None) -> torch.Tensor:
        features = list(sentence_features)
        if len(features) != 2:
            raise OtclirError(f"the loss reads two text columns (English, then the target language), got {len(features)}")
        english, target = features
        teacher_features = self._teacher_features(english)
        with torch.no_grad():
            t_tokens, t_attention = _tokens(self.teacher, teacher_features)
        s_tokens, s_attention = _tokens(self.model, target)
        if self.projection is not None:
            s_tokens = self.projection(s_tokens)
        t_mask = _content_mask(_tokenizer_of(self.teacher), teacher_features["input_ids"], t_attention,
                               self.prompt_tokens[0])
        s_mask = _content_mask(_tokenizer_of(self.model), target["input_ids"], s_attention, self.prompt_tokens[1])
        terms = {}
        if self.ot_weight:
            given, plan_tokens = None, None
            if callable(self.plan):
                given = self.plan(teacher_features, target).to(s_tokens.device)
            elif self.frozen_student is not None:
                with torch.no_grad():
                    frozen, _ = _tokens(self.frozen_student, target)
                    if self.projection is not None:
                        frozen = self.projection(frozen)
                plan_tokens = (t_tokens, frozen)
            terms["ot"], _ = optical_loss(t_tokens, t_mask, s_tokens, s_mask, epsilon=self.epsilon,
                                          max_iter=self.max_iter, detach_plan=True, cost="cosine",
                                          cost_scale=self.cost_scale, plan_tokens=plan_tokens, plan=given)
        if self.mse_weight:
            terms["sentence_mse"] = nn.functional.mse_loss(_mean_pool(s_tokens, s_attention),
                                                           _mean_pool(t_tokens, t_attention))
        self.last_terms = {name: float(value.detach()) for name, value in terms.items()}
        return self.ot_weight * terms.get("ot", 0.0) + self.mse_weight * terms.get("sentence_mse", 0.0)

    def get_config_dict(self) -> dict:
        return {"epsilon": self.epsilon, "max_iter": self.max_iter, "cost_scale": self.cost_scale,
                "plan": self.plan if isinstance(self.plan, str) else "given", "ot_weight": self.ot_weight,
                "mse_weight": self.mse_weight, "prompt_tokens": list(self.prompt_tokens)}

    @property
    def citation(self) -> str:
        return ("@inproceedings{huang2023optical, title={Improving Cross-lingual Information Retrieval on Low-Resource "
                "Languages via Optimal Transport Distillation}, author={Huang, Zhiqi and Yu, Puxuan and Allan, James}, "
                "booktitle={WSDM}, year={2023}}")


__all__ = ["OptimalTransportDistillationLoss", "COSTS"]
