"""Distillation on bitext: a frozen teacher reads English, the student learns the other side.

Objectives are sums of three terms (:data:`OBJECTIVES`):

- ``ot``: OPTICAL's loss, the transport plan between teacher and student tokens times their cost.
  The plan is solved on the cost rescaled per item (``cost_scale``), so ``epsilon`` is relative
  to the cost's spread, and may be computed on a middle layer (``plan_layer``), which aligns
  words better than the last one, while the loss weighs the last layer's cost.
- ``sentence_mse``: the student's mean-pooled sentence vector regressed onto the teacher's
  (Reimers and Gurevych 2020).
- ``infonce``: each teacher sentence vector must pick its own translation's student vector out of
  the batch (temperature ``temperature``); alone it only keeps relative similarities and drifts
  from the teacher's space, so it is always paired with an anchor (``sentence_mse`` in
  ``contrastive``, ``ot`` in ``ot+contrastive``).

With ``balance_losses`` the terms of a combined objective are weighted so that their gradients
have equal norms on the first batches (then multiplied by ``ot_weight``/``mse_weight``/
``contrastive_weight``): otherwise one term's scale decides alone.

Speed: the teacher's token states of a fixed bitext are computed once and reused every epoch;
``frozen_layers`` keeps the lowest layers at their base weights and computes their outputs for
the bitext once, so a step runs only the upper layers; batches group verses of similar length
(``bucket_batches``).

The loop (:class:`Trainer`) is shared with the contrastive training of :mod:`otclir.training.hybrid`.
Runs are resumable: a checkpoint holds the trained weights, optimiser, scheduler, sampler and
random state, so a run killed and resumed ends with the same weights as an uninterrupted one.
Under ``torchrun`` the trained layers are wrapped in DistributedDataParallel (gloo on CPU, nccl on
GPUs) and each rank takes its share of every batch of one shared batch plan.

    torchrun --nproc_per_node 2 -m otclir.training.trainer --config run.yaml --output outputs/train/x
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from otclir.data.languages import check_languages
from otclir.data.tasks import bitext_pairs
from otclir.errors import OtclirError
from otclir.transport.losses import alignment_and_uniformity, info_nce, optical_loss
from otclir.transport.ot import COST_SCALES, plan_diagnostics

OBJECTIVES = {
    "sentence_mse": ("sentence_mse",),
    "contrastive": ("infonce", "sentence_mse"),
    "ot": ("ot",),
    "ot+sentence_mse": ("ot", "sentence_mse"),
    "ot+contrastive": ("ot", "infonce"),
}
DEV_SIGNALS = ("dev_AP", "dev_nDCG@10", "dev_bitext_P@1", "dev_bitext_MRR")
CHECKPOINT = "checkpoint.pt"
_FROZEN_CACHE: dict = {}  # frozen models' states of fixed texts, shared by the runs of one process
_FROZEN_CACHE_SIZE = 6
RESULT = "result.json"
LOG = "log.jsonl"


@dataclass
class TrainConfig:
    """Settings every training objective shares: the student, optimisation, transport, dev checks."""

    student: str = "e5-small-student"  # trained
    teacher: str = "e5-small-student"  # frozen; reads the English side where an objective needs it
    steps: int = 300
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 2e-5
    warmup: float = 0.1  # share of the steps with linearly rising learning rate
    weight_decay: float = 0.01
    max_length: int = 64
    epsilon: float = 0.05
    sinkhorn_iters: int = 50
    cost_scale: str = "none"  # "std": the plan's cost divided by its spread per item (see otclir.transport.ot.scale_cost)
    plan_layer: int | None = None  # hidden layer whose token states give the plan (None: the last)
    detach_plan: bool = True
    drop_special: bool = True
    drop_punctuation: bool = False
    freeze_embeddings: bool = True
    frozen_layers: int = 0  # lowest transformer layers kept at the base weights (run without gradients)
    eval_every: int = 100  # 0: no dev evaluation
    eval_at_start: bool = True  # evaluate the untrained student too: the best model may be no training
    select_by: str = "dev_AP"  # the dev signal that picks the best step
    dev_queries: int = 200
    dev_docs: int | None = 1000
    patience: int | None = None  # evaluations without dev improvement before stopping
    keep_evaluated: bool = False  # also save the student of every dev evaluation (step-<n>/), for studies
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "grad_accum", "max_length", "sinkhorn_iters", "checkpoint_every",
                     "dev_queries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OtclirError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise OtclirError(f"eval_every must be a whole number, 0 for no dev evaluation, got {self.eval_every!r}")
        if not 0 <= self.warmup <= 1:
            raise OtclirError(f"warmup is a share of the steps in [0, 1], got {self.warmup}")
        if not self.lr > 0:
            raise OtclirError(f"lr must be positive, got {self.lr}")
        if not self.epsilon > 0:
            raise OtclirError(f"epsilon must be positive, got {self.epsilon}")
        if self.cost_scale not in COST_SCALES:
            raise OtclirError(f"unknown cost_scale '{self.cost_scale}'; scales: {', '.join(COST_SCALES)}")
        if not 0 <= self.frozen_layers:
            raise OtclirError(f"frozen_layers must be 0 or more, got {self.frozen_layers}")
        if self.plan_layer is not None and self.plan_layer < 0:
            raise OtclirError(f"plan_layer must be a layer number (0 = embeddings) or None, got {self.plan_layer}")
        if self.patience is not None and self.patience < 1:
            raise OtclirError(f"patience must be at least 1 evaluation, or None, got {self.patience}")
        if self.select_by not in DEV_SIGNALS:
            raise OtclirError(f"unknown select_by '{self.select_by}'; dev signals: {', '.join(DEV_SIGNALS)}")

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OtclirError(f"unknown training setting(s) {', '.join(unknown)}; settings: {', '.join(sorted(known))}")
        return cls(**values)

    # Settings added after runs were stored, with the value they had before: left out of the record
    # at that value, so a finished run keeps the folder and the identity it was stored under.
    OPTIONAL = {"bitext": None, "pairs_collection": None}

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        return {k: v for k, v in values.items() if not (k in self.OPTIONAL and v == self.OPTIONAL[k])}

    def trainer_class(self) -> type:
        raise NotImplementedError


@dataclass
class DistillConfig(TrainConfig):
    language: str = "sw"
    objective: str = "ot"
    query_language: str = "en"
    train_pairs: int | None = 2000  # training budget: verse pairs drawn from the train split
    bitext: str | None = None  # a TSV file of (English, target) pairs instead of the Bible's train split
    epsilon: float = 0.3
    cost_scale: str = "std"
    plan_layer: int | None = 8
    frozen_layers: int = 8
    select_by: str = "dev_bitext_MRR"
    temperature: float = 0.05  # of the InfoNCE term
    ot_weight: float = 1.0
    mse_weight: float = 1.0
    contrastive_weight: float = 1.0
    balance_losses: bool = True  # equal gradient norms of the terms on the first batches
    balance_batches: int = 4
    bucket_batches: bool = True  # batches of verses of similar length

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise OtclirError(f"unknown objective '{self.objective}'; objectives: {', '.join(OBJECTIVES)}")
        check_languages([self.language, self.query_language])
        for name in ("temperature", "ot_weight", "mse_weight", "contrastive_weight"):
            if not getattr(self, name) > 0:
                raise OtclirError(f"{name} must be positive, got {getattr(self, name)}")
        if self.train_pairs is not None and self.train_pairs < self.batch_size:
            raise OtclirError(f"train_pairs ({self.train_pairs}) cannot fill a batch of {self.batch_size}")
        super().__post_init__()

    @property
    def terms(self) -> tuple[str, ...]:
        return OBJECTIVES[self.objective]

    def trainer_class(self) -> type:
        return Distiller


class EpochSampler:
    """Batches of indices from a seeded permutation per epoch; its state resumes mid-epoch.

    With ``lengths`` the permutation is cut into groups of ``bucket`` batches, each group sorted by
    length before it is cut into batches, and the epoch's batches are shuffled: batches of similar
    lengths pad less, and every epoch still visits every index once."""

    def __init__(self, size: int, batch_size: int, seed: int, lengths=None, bucket: int = 32):
        if size < batch_size:
            raise OtclirError(f"{size} training pairs cannot fill a batch of {batch_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.bucket = bucket
        self.epoch, self.position = 0, 0
        self._batches: tuple[int, list] | None = None

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.size)

    def _epoch_batches(self) -> list[list[int]]:
        if self._batches is None or self._batches[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch, 1])
            order = self._order()[: self.size - self.size % self.batch_size]
            group = self.batch_size * self.bucket
            batches = []
            for start in range(0, len(order), group):
                chunk = order[start:start + group]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
            self._batches = (self.epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._batches[1]

    def next_batch(self) -> list[int]:
        if self.position + self.batch_size > self.size:  # drop the ragged end of an epoch
            self.epoch, self.position = self.epoch + 1, 0
        if self.lengths is None:
            batch = self._order()[self.position:self.position + self.batch_size].tolist()
        else:
            batch = self._epoch_batches()[self.position // self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]


def linear_schedule(optimizer, steps: int, warmup: float):
    warm = int(round(warmup * steps))

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        return max(0.0, (steps - step) / max(1, steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def parameter_checksum(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[2]) if name.startswith("encoder.layer.") else None


class Trainer:
    """The loop every objective shares: DDP, optimiser and schedule, dev checks with early
    stopping, checkpoints that resume to the same weights, and the saved student.

    A subclass loads its data and sampler in ``prepare_data`` and returns one step's losses (for
    this rank's share of the next batch) from ``batch_losses``; ``evaluate_dev`` scores the student.
    """

    def __init__(self, config: TrainConfig, output_dir: Path | str, device: str | None = None, progress: bool = True):
        from otclir.models.encoder import Encoder, upper_layers

        self.config = config
        self.progress = progress
        self.output_dir = Path(output_dir)
        self.rank, self.world = _distributed()
        if config.batch_size % self.world:
            raise OtclirError(f"batch_size {config.batch_size} does not split over {self.world} processes")
        if device is None:
            device = f"cuda:{self.rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
        torch.manual_seed(config.seed)
        self.teacher = None
        if self.needs_teacher():  # frozen: one copy serves every run of this process
            self.teacher = frozen_states(("teacher-model", config.teacher, device, config.max_length),
                                         lambda: Encoder(config.teacher, device=device, max_length=config.max_length))
            self.teacher.model.requires_grad_(False)
        self.student = Encoder(config.student, device=device, max_length=config.max_length)
        model = self.student.model
        if config.frozen_layers > self.student.num_layers:
            raise OtclirError(f"frozen_layers {config.frozen_layers} exceeds the student's {self.student.num_layers} layers")
        model.train()
        for name, param in model.named_parameters():
            layer = _layer_of(name)
            frozen = (name.startswith("pooler.")  # e5 pools by mean: the BERT pooler is never used
                      or (config.freeze_embeddings and "word_embeddings" in name)
                      or (config.frozen_layers > 0 and (name.startswith("embeddings.") or
                                                        (layer is not None and layer < config.frozen_layers))))
            param.requires_grad_(not frozen)
        self.trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        # The trained part as one module: the whole model, or the layers above the frozen ones.
        self.plain_module = upper_layers(model, config.frozen_layers) if config.frozen_layers else model
        for frozen_module in ([model.embeddings] if config.frozen_layers else []) + list(model.encoder.layer[:config.frozen_layers]):
            frozen_module.eval()  # frozen layers run as in inference (no dropout): their outputs can be cached
        self.module = self.plain_module
        if self.world > 1:
            self.module = torch.nn.parallel.DistributedDataParallel(self.plain_module)
        decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        self.scheduler = linear_schedule(self.optimizer, config.steps, config.warmup)
        self.sampler = self.prepare_data()
        self.step = 0
        self.history: list[dict] = []
        self.best: dict | None = None
        self.bad_evals = 0
        self._dev = None

    # ------------------------------------------------------ for subclasses
    def needs_teacher(self) -> bool:
        return True

    @property
    def show_progress(self) -> bool | None:
        """For encoding bars: their own default when progress is on, never when it is off."""
        return None if self.progress and self.rank == 0 else False

    def prepare_data(self):
        """Load the training data; return the sampler (anything with state_dict/load_state_dict)."""
        raise NotImplementedError

    def batch_losses(self) -> dict[str, torch.Tensor]:
        """Loss parts of this rank's share of the next batch; ``loss`` is the one to minimise."""
        raise NotImplementedError

    def evaluate_dev(self) -> dict[str, float]:
        raise NotImplementedError

    def progress_label(self) -> str:
        return type(self).__name__

    def train_size(self) -> int:
        return len(self.pairs)

    def extra_state(self) -> dict:
        """Anything else a checkpoint must hold to resume exactly."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def before_training(self) -> None:
        """Runs once before the first step of a fresh (not resumed) run."""

    # ------------------------------------------------------ shared pieces
    def content(self, encoder, input_ids, attention_mask, kind: str | None = "passage"):
        """Tokens that take part in transport: no special tokens, no e5 prefix (and no punctuation
        with ``drop_punctuation``)."""
        from otclir.models.tokenization import content_mask

        mask = encoder.content_mask(input_ids, attention_mask, kind) if self.config.drop_special else attention_mask.bool()
        if self.config.drop_punctuation:
            mask = mask & content_mask(encoder.spec.name, input_ids, attention_mask, False, True)
            mask = torch.where(mask.any(1, keepdim=True), mask, attention_mask.bool())
        return mask

    def student_forward(self, input_ids, attention_mask, output_hidden_states: bool = False):
        """The student's last hidden states (and, if asked, every trained layer's) for token ids,
        the frozen lower layers run without gradients."""
        from otclir.models.encoder import lower_forward

        if not self.config.frozen_layers:
            out = self.module(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states)
            return (list(out.hidden_states) if output_hidden_states else out.last_hidden_state)
        with torch.no_grad():
            hidden = lower_forward(self.student.model, input_ids, attention_mask, self.config.frozen_layers)
        states = self.module(hidden, attention_mask, output_hidden_states=output_hidden_states)
        return states

    def teacher_states(self, english: list[str], kind: str = "passage"):
        """The frozen teacher's tokenised batch and last hidden states for English passages (or
        queries, ``kind="query"``)."""
        t_batch = self.teacher.tokenize(english, kind=kind)
        with torch.no_grad():
            t_hidden = self.teacher.model(input_ids=t_batch["input_ids"], attention_mask=t_batch["attention_mask"]).last_hidden_state
        return t_batch, t_hidden

    def transport_loss(self, t_hidden, t_mask, s_hidden, s_mask, t_plan=None, s_plan=None):
        """OPTICAL's loss between teacher and student token states of the same verses (``t_mask``/
        ``s_mask``: the tokens taking part), the plan from ``t_plan``/``s_plan`` states if given;
        returns the loss and the plan's diagnostics."""
        cfg = self.config
        loss, result = optical_loss(t_hidden, t_mask, s_hidden, s_mask, epsilon=cfg.epsilon, max_iter=cfg.sinkhorn_iters,
                                    detach_plan=cfg.detach_plan, cost_scale=cfg.cost_scale,
                                    plan_tokens=None if t_plan is None else (t_plan, s_plan))
        diagnostics = plan_diagnostics(result.plan, t_mask, s_mask)
        diagnostics["ot_marginal_error"] = float(result.marginal_error.mean())
        return loss, diagnostics

    # ------------------------------------------------------------ checkpoints
    def disk_bytes_needed(self) -> int:
        """What a run writes at most: the best and the final student (the trained weights each),
        and a checkpoint (weights and two optimiser moments) written beside the previous one."""
        params = dict(self.student.model.named_parameters())
        weights = sum(params[n].numel() * params[n].element_size() for n in self.trainable)
        return 2 * weights + 2 * 3 * weights

    def check_disk_space(self) -> None:
        if self.rank:
            return
        needed, free = self.disk_bytes_needed(), shutil.disk_usage(self.output_dir).free
        if free < needed:
            raise OtclirError(
                f"{self.output_dir} is on a disk with {free / 1e6:.0f} MB free, and this run writes up to "
                f"{needed / 1e6:.0f} MB (students and checkpoints): free space there, or set OTCLIR_OUTPUTS "
                "to a folder on a larger disk")

    def trained_state(self) -> dict[str, torch.Tensor]:
        state = self.student.model.state_dict()
        return {n: state[n].detach().cpu().clone() for n in self.trainable}

    def save_checkpoint(self) -> None:
        if self.rank:
            return
        state = {"config": self.config.to_dict(), "step": self.step, "weights": self.trained_state(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "sampler": self.sampler.state_dict(), "torch_rng": torch.get_rng_state(),
                 "history": self.history, "best": self.best, "bad_evals": self.bad_evals, "extra": self.extra_state()}
        tmp = self.output_dir / (CHECKPOINT + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.output_dir / CHECKPOINT)

    def load_checkpoint(self) -> bool:
        path = self.output_dir / CHECKPOINT
        if not path.is_file():
            finished = finished_result(self.output_dir)
            if finished and finished["config"] and finished["config"] != self.config.to_dict():
                raise OtclirError(f"{self.output_dir / RESULT} is a finished run with other settings; "
                                  "use another output folder or delete it")
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["config"] != self.config.to_dict():
            raise OtclirError(f"{path} was written with other settings; use another output folder or delete it")
        self.student.model.load_state_dict(state["weights"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.step, self.history = state["step"], state["history"]
        self.best, self.bad_evals = state["best"], state["bad_evals"]
        self.load_extra_state(state.get("extra", {}))
        return True

    def save_student(self, weights: dict[str, torch.Tensor], folder: Path) -> Path:
        """The student as base model id plus trained weights; ``Encoder(folder)`` loads it."""
        from safetensors.torch import save_file

        from otclir.models.registry import DISTILLED_MARKER

        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in weights.items()}, folder / "student.safetensors")
        (folder / DISTILLED_MARKER).write_text(json.dumps(
            {"base": self.config.student, "weights": "student.safetensors", "step": self.step,
             "config": self.config.to_dict()}, indent=1) + "\n")
        return folder

    # ----------------------------------------------------------------- loop
    def train(self, stop_after: int | None = None, progress: bool = True) -> dict:
        """Train to ``config.steps`` (or until early stopping); ``stop_after`` ends this process
        after that many steps, as a kill would, for resume tests."""
        from tqdm.auto import tqdm

        cfg = self.config
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.check_disk_space()
        resumed = self.load_checkpoint()
        log = open(self.output_dir / LOG, "a", encoding="utf-8") if self.rank == 0 else None
        bar = tqdm(total=cfg.steps, initial=self.step, desc=self.progress_label(),
                   disable=self.rank != 0 or not progress, leave=False)
        started, ran, stopped_early = time.time(), 0, False
        if not resumed:
            self.before_training()
        if cfg.eval_every and cfg.eval_at_start and self.step == 0 and not self.history:
            record = {"step": 0, **self.start_record()}
            self._evaluate_and_track(record)
            self.history.append(record)
            if log:
                log.write(json.dumps(record) + "\n")
        try:
            while self.step < cfg.steps and not stopped_early:
                if stop_after is not None and ran >= stop_after:
                    return {"interrupted_at": self.step}
                step_started = time.time()
                self.optimizer.zero_grad(set_to_none=True)
                parts_sum: dict[str, float] = {}
                for _ in range(cfg.grad_accum):
                    parts = self.batch_losses()
                    (parts["loss"] / cfg.grad_accum).backward()
                    for k, v in parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v) / cfg.grad_accum
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                ran += 1
                record = {"step": self.step, "lr": self.scheduler.get_last_lr()[0], **parts_sum,
                          "step_seconds": round(time.time() - step_started, 4)}
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                    record.update(self.diagnose())
                    stopped_early = self._evaluate_and_track(record)
                self.history.append(record)
                if log:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                bar.set_postfix(loss=f"{parts_sum['loss']:.4f}")
                bar.update(1)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps or stopped_early:
                    self.save_checkpoint()
        finally:
            bar.close()
            if log:
                log.close()
        return self._finish(resumed, time.time() - started, stopped_early)

    def start_record(self) -> dict:
        """What the step-0 log record holds besides the dev signals."""
        return {}

    def diagnose(self) -> dict:
        """Diagnostics logged at every dev evaluation (per-term gradient norms, for instance)."""
        return {}

    def _evaluate_and_track(self, record: dict) -> bool:
        stop = torch.zeros(1)
        if self.rank == 0:
            record.update(self.evaluate_dev())
            if self.config.keep_evaluated:
                self.save_student(self.trained_state(), self.output_dir / f"step-{self.step:06d}")
            key = self.config.select_by if self.config.select_by in record else "dev_AP"
            if self.best is None or record[key] > self.best[key]:
                self.best = {"step": self.step, "selected_by": key,
                             **{k: v for k, v in record.items() if k.startswith("dev_")}}
                self.save_student(self.trained_state(), self.output_dir / "best")
                self.bad_evals = 0
            else:
                self.bad_evals += 1
            stop[0] = float(self.config.patience is not None and self.bad_evals >= self.config.patience)
        if self.world > 1:
            torch.distributed.broadcast(stop, src=0)
        return bool(stop[0])

    def _finish(self, resumed: bool, seconds: float, stopped_early: bool) -> dict:
        checksum = parameter_checksum(self.student.model)
        result = {"steps": self.step, "stopped_early": stopped_early, "resumed": resumed,
                  "seconds_this_run": round(seconds, 1), "best": self.best, "parameter_checksum": checksum,
                  "world_size": self.world, "train_pairs": self.train_size(), **self.extra_state()}
        (self.output_dir / f"rank{self.rank}.json").write_text(json.dumps({"parameter_checksum": checksum}) + "\n")
        if self.rank == 0:
            self.save_student(self.trained_state(), self.output_dir / "final")
            # stored relative to the run folder, so a copied folder still points at its own students
            result["final_model"], result["model"] = "final", ("best" if self.best else "final")
            result["config"] = self.config.to_dict()
            (self.output_dir / RESULT).write_text(json.dumps(result, indent=1) + "\n")
            # The resume state (optimiser moments, sampler, RNG) is three times the size of a student
            # and of no use once the run is finished: the students and the result stay.
            (self.output_dir / CHECKPOINT).unlink(missing_ok=True)
            return _with_paths(result, self.output_dir)
        return result


def frozen_states(key: tuple, compute):
    """``compute()``, remembered under ``key`` for the next runs in this process: the states of a
    frozen model (the teacher, or a student's frozen layers) on a fixed set of texts are the same
    for every configuration of a study. Keys name the weights, texts, layers and settings."""
    if key not in _FROZEN_CACHE:
        while len(_FROZEN_CACHE) >= _FROZEN_CACHE_SIZE:
            _FROZEN_CACHE.pop(next(iter(_FROZEN_CACHE)))
        _FROZEN_CACHE[key] = compute()
    return _FROZEN_CACHE[key]


def _texts_key(texts) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Distiller(Trainer):
    """Distillation on bitext (objectives in :data:`OBJECTIVES`)."""

    config: DistillConfig

    def prepare_data(self):
        cfg = self.config
        self.pairs = bitext_pairs(cfg.language, cfg.query_language, "train", cfg.train_pairs, cfg.seed, cfg.bitext)
        english, target = [p[0] for p in self.pairs], [p[1] for p in self.pairs]
        last = self.teacher.num_layers
        # The teacher is frozen and the bitext fixed: its token states are computed once.
        layers = tuple(sorted({last} | ({cfg.plan_layer} if self.uses_ot and cfg.plan_layer is not None else set())))
        key = (self.teacher.spec.path, self.teacher.spec.delta, cfg.max_length, _texts_key(english))
        self.teacher_cache = frozen_states(("teacher", *key, layers),
                                           lambda: self.teacher.hidden_states(english, "passage", layers,
                                                                              show_progress=self.show_progress))
        # So are the outputs of the student's frozen layers (and its plan layer, when frozen too).
        student_layers = {cfg.frozen_layers} if cfg.frozen_layers else set()
        if self.uses_ot and cfg.plan_layer is not None and cfg.plan_layer <= cfg.frozen_layers:
            student_layers.add(cfg.plan_layer)
        student_layers = tuple(sorted(student_layers))
        self.student_cache = {}
        if student_layers:
            key = (self.student.spec.path, self.student.spec.delta, cfg.max_length, _texts_key(target), student_layers)
            self.student_cache = frozen_states(("student", *key),
                                               lambda: self.student.hidden_states(target, "passage", student_layers,
                                                                                  show_progress=self.show_progress))
        self.target = target
        lengths = [len(s) for s in self.teacher_cache[last].input_ids] if cfg.bucket_batches else None
        self.term_weights = {term: 1.0 for term in cfg.terms}
        return EpochSampler(len(self.pairs), cfg.batch_size, cfg.seed, lengths=lengths)

    @property
    def uses_ot(self) -> bool:
        return "ot" in self.config.terms

    def progress_label(self) -> str:
        return f"{self.config.objective} {self.config.language}"

    def extra_state(self) -> dict:
        return {"term_weights": dict(self.term_weights)}

    def load_extra_state(self, state: dict) -> None:
        self.term_weights = dict(state.get("term_weights", self.term_weights))

    def batch_losses(self) -> dict[str, torch.Tensor]:
        batch = self.sampler.next_batch()[self.rank::self.world]
        return self.losses(batch)

    def _stack(self, cache, rows):
        from otclir.models.encoder import pad_states

        return pad_states([cache.states[i] for i in rows], [cache.input_ids[i] for i in rows])

    def terms_of(self, rows: list[int], module=None) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Each term's loss on the pairs ``rows`` (unweighted) and the step's diagnostics."""
        cfg = self.config
        module = module or self.module
        device = self.student.device
        last = self.teacher.num_layers
        t_hidden, t_attention, t_ids = (x.to(device) for x in self._stack(self.teacher_cache[last], rows))
        t_content = self.content(self.teacher, t_ids, t_attention)
        need_plan_states = self.uses_ot and cfg.plan_layer is not None
        if cfg.frozen_layers:
            s_in, s_attention, s_ids = (x.to(device) for x in self._stack(self.student_cache[cfg.frozen_layers], rows))
            states = module(s_in, s_attention, output_hidden_states=True)  # layers frozen_layers..last
        else:
            batch = self.student.tokenize([self.target[i] for i in rows], kind="passage")
            s_ids, s_attention = batch["input_ids"], batch["attention_mask"].bool()
            out = module(input_ids=s_ids, attention_mask=batch["attention_mask"], output_hidden_states=True)
            states = list(out.hidden_states)
        s_hidden = states[-1]
        s_content = self.content(self.student, s_ids, s_attention)
        t_sent = self.student.mean_pool(t_hidden, t_attention, normalize=False)
        s_sent = self.student.mean_pool(s_hidden, s_attention, normalize=False)
        terms, diagnostics = {}, alignment_and_uniformity(s_sent, t_sent)
        if "sentence_mse" in cfg.terms:
            terms["sentence_mse"] = torch.nn.functional.mse_loss(s_sent, t_sent)
        if "infonce" in cfg.terms:
            anchors, candidates, offset = t_sent, s_sent, 0
            if self.world > 1:  # the whole batch's translations are the negatives
                import torch.distributed.nn.functional as dist_fn

                candidates = torch.cat(dist_fn.all_gather(s_sent), 0)
                offset = self.rank * len(rows)
            labels = torch.arange(len(rows), device=device) + offset
            terms["infonce"] = info_nce(anchors, candidates, labels, cfg.temperature)
        if self.uses_ot:
            t_plan = s_plan = None
            if need_plan_states:
                t_plan = self._stack(self.teacher_cache[cfg.plan_layer], rows)[0].to(device)
                if cfg.plan_layer <= cfg.frozen_layers:
                    s_plan = self._stack(self.student_cache[cfg.plan_layer], rows)[0].to(device)
                else:
                    s_plan = states[cfg.plan_layer - cfg.frozen_layers]
            terms["ot"], plan_info = self.transport_loss(t_hidden, t_content, s_hidden, s_content, t_plan, s_plan)
            diagnostics.update(plan_info)
        return terms, diagnostics

    def losses(self, rows: list[int]) -> dict[str, torch.Tensor]:
        terms, diagnostics = self.terms_of(rows)
        total = sum(self.term_weights[name] * self.user_weight(name) * value for name, value in terms.items())
        return {**terms, **diagnostics, "loss": total}

    def user_weight(self, term: str) -> float:
        cfg = self.config
        return {"ot": cfg.ot_weight, "sentence_mse": cfg.mse_weight, "infonce": cfg.contrastive_weight}[term]

    def term_gradient_norms(self, rows: list[int]) -> dict[str, float]:
        """The gradient norm of each term alone over the trained weights, on one batch (through the
        module without DDP: nothing is synchronised or accumulated)."""
        params = [p for p in self.student.model.parameters() if p.requires_grad]
        terms, _ = self.terms_of(rows, module=self.plain_module)
        norms = {}
        for name, value in terms.items():
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            norms[name] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))
        return norms

    def _probe_batches(self) -> list[list[int]]:
        """Fixed batches for balancing and gradient diagnostics (their own seeded draw)."""
        probe = EpochSampler(len(self.pairs), self.config.batch_size, self.config.seed + 1000)
        return [probe.next_batch()[self.rank::self.world] for _ in range(self.config.balance_batches)]

    def before_training(self) -> None:
        cfg = self.config
        if not (cfg.balance_losses and len(cfg.terms) > 1):
            return
        totals = torch.zeros(len(cfg.terms), dtype=torch.float64)
        for rows in self._probe_batches():
            norms = self.term_gradient_norms(rows)
            totals += torch.tensor([norms[t] for t in cfg.terms], dtype=torch.float64)
        if self.world > 1:
            torch.distributed.all_reduce(totals)
        mean = float(totals.mean())
        self.term_weights = {t: mean / max(float(n), 1e-12) for t, n in zip(cfg.terms, totals)}

    def start_record(self) -> dict:
        return {f"weight_{k}": v for k, v in self.term_weights.items()}

    def diagnose(self) -> dict:
        rows = self._probe_batches()[0]
        return {f"grad_norm_{k}": v for k, v in self.term_gradient_norms(rows).items()}

    # -------------------------------------------------------------- dev signals
    def dev_data(self):
        """The dev task (sampled queries and documents), the teacher's query vectors, the teacher's
        vectors of each document verse in English (the bitext signal's targets) and the frozen
        layers' outputs for the documents."""
        if self._dev is None:
            cfg = self.config
            key = ("dev", self.teacher.spec.path, self.teacher.spec.delta, self.student.spec.path, cfg.max_length,
                   cfg.language, cfg.query_language, cfg.dev_queries, cfg.dev_docs, cfg.seed, cfg.frozen_layers)
            self._dev = frozen_states(key, self._dev_data)
        return self._dev

    def _dev_data(self):
        from otclir.data.bible import parse_verse_id, read_language
        from otclir.data.tasks import crossref_task, subsample_documents

        cfg = self.config
        task = crossref_task(cfg.language, "dev", cfg.query_language, max_queries=cfg.dev_queries, seed=cfg.seed)
        task = subsample_documents(task, cfg.dev_docs, cfg.seed)
        queries = self.teacher.encode([task.queries[q] for q in task.queries], kind="query")
        english = read_language(cfg.query_language)
        doc_english = self.teacher.encode([english[parse_verse_id(d)] for d in task.docs], kind="passage")
        docs = [task.docs[d] for d in task.docs]
        lower = self.student.lower_states(docs, "passage", cfg.frozen_layers) if cfg.frozen_layers else None
        return task, queries, doc_english, docs, lower

    def evaluate_dev(self) -> dict[str, float]:
        from otclir.retrieval.dense import bitext_signals, dev_scores

        task, queries, doc_english, docs, lower = self.dev_data()
        if lower is not None:  # only the trained layers run (encode_* switch dropout off and back)
            doc_vectors = self.student.encode_tokens(None, "passage", lower=lower).pooled
        else:
            doc_vectors = self.student.encode(docs, kind="passage")
        out = dev_scores(task, queries, doc_vectors)
        out.update({f"dev_bitext_{k}": v for k, v in bitext_signals(doc_vectors, doc_english).items()})
        return out


def _no_decay(name: str) -> bool:
    return name.endswith(".bias") or "LayerNorm" in name


def train(config: TrainConfig, output_dir: Path | str, stop_after: int | None = None, progress: bool = True) -> dict:
    """Train, or return the stored result when ``output_dir`` holds a finished run with these settings."""
    output_dir = Path(output_dir)
    stored = finished_result(output_dir)
    if stored and stored["config"] == config.to_dict():
        return _with_paths(stored, output_dir)
    return config.trainer_class()(config, output_dir, progress=progress).train(stop_after=stop_after, progress=progress)


def finished_result(output_dir: Path) -> dict | None:
    """The stored result of a finished run in ``output_dir`` with its settings under ``config``
    (None when the run has not finished); a damaged ``result.json`` is named with the fix."""
    done = Path(output_dir) / RESULT
    if not done.is_file():
        return None
    try:
        stored = json.loads(done.read_text())
    except json.JSONDecodeError as error:
        raise OtclirError(f"{done} is not valid JSON (line {error.lineno}: {error.msg}); delete it to train "
                          "this run again (its students in best/ and final/ are rewritten)") from error
    if not stored.get("config"):
        stored["config"] = _finished_config(Path(output_dir))
    return stored


def _finished_config(output_dir: Path) -> dict | None:
    """The settings of a run finished before ``result.json`` held them: from its checkpoint, or,
    once that is deleted, from the record saved beside its final student."""
    from otclir.models.registry import DISTILLED_MARKER

    if (output_dir / CHECKPOINT).is_file():
        return torch.load(output_dir / CHECKPOINT, map_location="cpu", weights_only=False)["config"]
    marker = output_dir / "final" / DISTILLED_MARKER
    return json.loads(marker.read_text())["config"] if marker.is_file() else None


def _with_paths(result: dict, output_dir: Path) -> dict:
    """A run's result with its students' folders as paths (the file stores them relative)."""
    return {**result, **{k: str(Path(output_dir) / result[k]) for k in ("model", "final_model") if k in result}}


def read_log(output_dir: Path | str):
    import pandas as pd

    path = Path(output_dir) / LOG
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows).drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)


def command_line(argv=None, config_class: type = None, description: str = "") -> int:
    """``--config run.yaml --output folder``: one training run, under ``torchrun`` too."""
    import yaml

    config_class = config_class or DistillConfig
    parser = argparse.ArgumentParser(description=description or "Distil a student on bitext (runs under torchrun too).")
    parser.add_argument("--config", required=True, help=f"YAML file of {config_class.__name__} settings")
    parser.add_argument("--output", required=True, help="run folder (checkpoints, log, result)")
    parser.add_argument("--stop-after", type=int, default=None, help="end after this many steps (resume tests)")
    args = parser.parse_args(argv)
    config = config_class.from_dict(yaml.safe_load(Path(args.config).read_text()) or {})
    result = train(config, args.output, stop_after=args.stop_after)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result, indent=1))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(command_line())
