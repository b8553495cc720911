"""Distillation on bitext: a frozen teacher reads English, the student learns the other side.

Objectives: ``ot`` (OPTICAL: the transport plan between teacher and student tokens times their
cost), ``sentence_mse`` (student sentence embedding regressed onto the teacher's, Reimers and
Gurevych 2020) and ``ot+sentence_mse`` (their weighted sum).

The loop (:class:`Trainer`) is shared with the contrastive training of :mod:`otclir.hybrid`.
Runs are resumable: a checkpoint holds the trained weights, optimiser, scheduler, sampler and
random state, so a run killed and resumed ends with the same weights as an uninterrupted one.
Under ``torchrun`` the student is wrapped in DistributedDataParallel (gloo on CPU, nccl on GPUs)
and each rank takes its share of every batch of one shared batch plan.

    torchrun --nproc_per_node 2 -m otclir.training --config run.yaml --output outputs/train/x
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .bible import read_language
from .errors import OtclirError
from .languages import check_languages
from .losses import optical_loss
from .splits import books_of
from .tokenization import content_mask

OBJECTIVES = ("ot", "sentence_mse", "ot+sentence_mse")
CHECKPOINT = "checkpoint.pt"
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
    detach_plan: bool = True
    drop_special: bool = True
    drop_punctuation: bool = False
    freeze_embeddings: bool = True
    eval_every: int = 100  # 0: no dev evaluation
    eval_at_start: bool = True  # evaluate the untrained student too: the best model may be no training
    dev_queries: int = 200
    dev_docs: int | None = 1000
    patience: int | None = None  # evaluations without dev improvement before stopping
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "grad_accum", "max_length", "sinkhorn_iters"):
            if getattr(self, name) < 1:
                raise OtclirError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.warmup <= 1:
            raise OtclirError(f"warmup is a share of the steps in [0, 1], got {self.warmup}")

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OtclirError(f"unknown training setting(s) {', '.join(unknown)}; settings: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def trainer_class(self) -> type:
        raise NotImplementedError


@dataclass
class DistillConfig(TrainConfig):
    language: str = "sw"
    objective: str = "ot"
    query_language: str = "en"
    train_pairs: int | None = 2000  # training budget: verse pairs drawn from the train split
    ot_weight: float = 1.0
    mse_weight: float = 1.0

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise OtclirError(f"unknown objective '{self.objective}'; objectives: {', '.join(OBJECTIVES)}")
        check_languages([self.language, self.query_language])
        super().__post_init__()

    def trainer_class(self) -> type:
        return Distiller


def bitext_pairs(language: str, query_language: str = "en", split: str = "train", budget: int | None = None,
                 seed: int = 0) -> list[tuple[str, str]]:
    """(English, target) verse pairs of a split, in a seeded order, the first ``budget`` of them."""
    books = set(books_of(split))
    source, target = read_language(query_language), read_language(language)
    keys = sorted(k for k in source if k[0] in books and k in target)
    order = np.random.default_rng(seed).permutation(len(keys))
    if budget is not None:
        order = order[:budget]
    return [(source[keys[i]], target[keys[i]]) for i in order]


class EpochSampler:
    """Batches of indices from a seeded permutation per epoch; its state resumes mid-epoch."""

    def __init__(self, size: int, batch_size: int, seed: int):
        if size < batch_size:
            raise OtclirError(f"{size} training pairs cannot fill a batch of {batch_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch, self.position = 0, 0

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.size)

    def next_batch(self) -> list[int]:
        if self.position + self.batch_size > self.size:  # drop the ragged end of an epoch
            self.epoch, self.position = self.epoch + 1, 0
        batch = self._order()[self.position:self.position + self.batch_size].tolist()
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


class Trainer:
    """The loop every objective shares: DDP, optimiser and schedule, dev checks with early
    stopping, checkpoints that resume to the same weights, and the saved student.

    A subclass loads its data and sampler in ``prepare_data`` and returns one step's losses (for
    this rank's share of the next batch) from ``batch_losses``; ``evaluate_dev`` scores the student.
    """

    def __init__(self, config: TrainConfig, output_dir: Path | str, device: str | None = None):
        from .encoder import Encoder

        self.config = config
        self.output_dir = Path(output_dir)
        self.rank, self.world = _distributed()
        if config.batch_size % self.world:
            raise OtclirError(f"batch_size {config.batch_size} does not split over {self.world} processes")
        if device is None:
            device = f"cuda:{self.rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
        torch.manual_seed(config.seed)
        self.teacher = None
        if self.needs_teacher():
            self.teacher = Encoder(config.teacher, device=device, max_length=config.max_length)
            self.teacher.model.requires_grad_(False)
        self.student = Encoder(config.student, device=device, max_length=config.max_length)
        model = self.student.model
        model.train()
        for name, param in model.named_parameters():
            frozen = name.startswith("pooler.") or (config.freeze_embeddings and "word_embeddings" in name)
            param.requires_grad_(not frozen)  # e5 pools by mean: the BERT pooler is never used
        self.trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        self.module = model
        if self.world > 1:
            self.module = torch.nn.parallel.DistributedDataParallel(model)
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
        self._prefix = {enc.name: _prefix_pieces(enc) for enc in (self.teacher, self.student) if enc is not None}

    # ------------------------------------------------------ for subclasses
    def needs_teacher(self) -> bool:
        return True

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

    # ------------------------------------------------------ shared pieces
    def _content(self, encoder, batch):
        mask = content_mask(encoder.spec.name, batch["input_ids"], batch["attention_mask"],
                            self.config.drop_special, self.config.drop_punctuation)
        skip = self._prefix[encoder.name]
        if skip:  # the "passage: " prefix is the same on both sides; it takes no part in transport
            mask = mask.clone()
            mask[:, 1:1 + skip] = False
            mask = torch.where(mask.any(1, keepdim=True), mask, batch["attention_mask"].bool())
        return mask

    def teacher_states(self, english: list[str]):
        """The frozen teacher's tokenised batch and last hidden states for English passages."""
        t_batch = self.teacher.tokenize(english, kind="passage")
        with torch.no_grad():
            t_hidden = self.teacher.model(input_ids=t_batch["input_ids"], attention_mask=t_batch["attention_mask"]).last_hidden_state
        return t_batch, t_hidden

    def transport_loss(self, t_batch, t_hidden, s_batch, s_hidden):
        """OPTICAL's loss between teacher and student token states of the same verses (both read as
        passages); returns the loss and the mean marginal error of the plans."""
        loss, result = optical_loss(t_hidden, self._content(self.teacher, t_batch), s_hidden,
                                    self._content(self.student, s_batch), epsilon=self.config.epsilon,
                                    max_iter=self.config.sinkhorn_iters, detach_plan=self.config.detach_plan)
        return loss, result.marginal_error.mean()

    # ------------------------------------------------------------ checkpoints
    def trained_state(self) -> dict[str, torch.Tensor]:
        state = self.student.model.state_dict()
        return {n: state[n].detach().cpu().clone() for n in self.trainable}

    def save_checkpoint(self) -> None:
        if self.rank:
            return
        state = {"config": self.config.to_dict(), "step": self.step, "weights": self.trained_state(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "sampler": self.sampler.state_dict(), "torch_rng": torch.get_rng_state(),
                 "history": self.history, "best": self.best, "bad_evals": self.bad_evals}
        tmp = self.output_dir / (CHECKPOINT + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.output_dir / CHECKPOINT)

    def load_checkpoint(self) -> bool:
        path = self.output_dir / CHECKPOINT
        if not path.is_file():
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
        return True

    def save_student(self, weights: dict[str, torch.Tensor], folder: Path) -> Path:
        """The student as base model id plus trained weights; ``Encoder(folder)`` loads it."""
        from safetensors.torch import save_file

        from .models import DISTILLED_MARKER

        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in weights.items()}, folder / "student.safetensors")
        (folder / DISTILLED_MARKER).write_text(json.dumps(
            {"base": self.config.student, "weights": "student.safetensors", "config": self.config.to_dict()}, indent=1) + "\n")
        return folder

    # ----------------------------------------------------------------- loop
    def train(self, stop_after: int | None = None, progress: bool = True) -> dict:
        """Train to ``config.steps`` (or until early stopping); ``stop_after`` ends this process
        after that many steps, as a kill would, for resume tests."""
        from tqdm.auto import tqdm

        cfg = self.config
        self.output_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.load_checkpoint()
        log = open(self.output_dir / LOG, "a", encoding="utf-8") if self.rank == 0 else None
        bar = tqdm(total=cfg.steps, initial=self.step, desc=self.progress_label(),
                   disable=self.rank != 0 or not progress, leave=False)
        started, ran, stopped_early = time.time(), 0, False
        if cfg.eval_every and cfg.eval_at_start and self.step == 0 and not self.history:
            record = {"step": 0}
            self._evaluate_and_track(record)
            self.history.append(record)
            if log:
                log.write(json.dumps(record) + "\n")
        try:
            while self.step < cfg.steps and not stopped_early:
                if stop_after is not None and ran >= stop_after:
                    return {"interrupted_at": self.step}
                self.optimizer.zero_grad(set_to_none=True)
                parts_sum: dict[str, float] = {}
                for _ in range(cfg.grad_accum):
                    parts = self.batch_losses()
                    (parts["loss"] / cfg.grad_accum).backward()
                    for k, v in parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + float(v.detach()) / cfg.grad_accum
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                ran += 1
                record = {"step": self.step, "lr": self.scheduler.get_last_lr()[0], **parts_sum}
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
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

    def _evaluate_and_track(self, record: dict) -> bool:
        stop = torch.zeros(1)
        if self.rank == 0:
            record.update(self.evaluate_dev())
            if self.best is None or record["dev_AP"] > self.best["dev_AP"]:
                self.best = {"step": self.step, "dev_AP": record["dev_AP"], "dev_nDCG@10": record["dev_nDCG@10"]}
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
                  "world_size": self.world, "train_pairs": self.train_size()}
        (self.output_dir / f"rank{self.rank}.json").write_text(json.dumps({"parameter_checksum": checksum}) + "\n")
        if self.rank == 0:
            final = self.save_student(self.trained_state(), self.output_dir / "final")
            result["final_model"] = str(final)
            result["model"] = str(self.output_dir / "best") if self.best else str(final)
            (self.output_dir / RESULT).write_text(json.dumps(result, indent=1) + "\n")
        return result


class Distiller(Trainer):
    """Distillation on bitext (objectives ``ot``, ``sentence_mse``, ``ot+sentence_mse``)."""

    config: DistillConfig

    def prepare_data(self):
        cfg = self.config
        self.pairs = bitext_pairs(cfg.language, cfg.query_language, "train", cfg.train_pairs, cfg.seed)
        return EpochSampler(len(self.pairs), cfg.batch_size, cfg.seed)

    def progress_label(self) -> str:
        return f"{self.config.objective} {self.config.language}"

    def batch_losses(self) -> dict[str, torch.Tensor]:
        batch = self.sampler.next_batch()[self.rank::self.world]
        return self.losses([self.pairs[i] for i in batch])

    def losses(self, pairs: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
        cfg = self.config
        english, target = [p[0] for p in pairs], [p[1] for p in pairs]
        t_batch, t_hidden = self.teacher_states(english)
        s_batch = self.student.tokenize(target, kind="passage")
        s_hidden = self.module(input_ids=s_batch["input_ids"], attention_mask=s_batch["attention_mask"]).last_hidden_state
        out = {}
        total = s_hidden.new_zeros(())
        if "ot" in cfg.objective.split("+"):
            loss, out["ot_marginal_error"] = self.transport_loss(t_batch, t_hidden, s_batch, s_hidden)
            out["ot"] = loss
            total = total + cfg.ot_weight * loss
        if "sentence_mse" in cfg.objective:
            from .encoder import Encoder

            t_sent = Encoder.mean_pool(t_hidden, t_batch["attention_mask"].bool(), normalize=False)
            s_sent = Encoder.mean_pool(s_hidden, s_batch["attention_mask"].bool(), normalize=False)
            loss = torch.nn.functional.mse_loss(s_sent, t_sent)
            out["sentence_mse"] = loss
            total = total + cfg.mse_weight * loss
        out["loss"] = total
        return out

    def dev_task(self):
        if self._dev is None:
            from .tasks import crossref_task, subsample_documents

            task = crossref_task(self.config.language, "dev", self.config.query_language,
                                 max_queries=self.config.dev_queries, seed=self.config.seed)
            task = subsample_documents(task, self.config.dev_docs, self.config.seed)
            queries = self.teacher.encode([task.queries[q] for q in task.queries], kind="query")
            self._dev = (task, queries)
        return self._dev

    def evaluate_dev(self) -> dict[str, float]:
        from .evaluation import dense_retrieve, evaluate

        task, queries = self.dev_task()
        self.student.model.eval()
        docs = self.student.encode([task.docs[d] for d in task.docs], kind="passage")
        self.student.model.train()
        run = dense_retrieve(queries, docs, list(task.queries), list(task.docs), k=1000, exclude=task.exclude)
        return {f"dev_{k}": v for k, v in evaluate(task.qrels, run, ["AP", "nDCG@10"]).items()}


def _no_decay(name: str) -> bool:
    return name.endswith(".bias") or "LayerNorm" in name


def _prefix_pieces(encoder) -> int:
    """Pieces of the "passage: " prefix after the first special token (0 without prefixes)."""
    if not encoder.prefixes:
        return 0
    bare = encoder.tokenizer("x", add_special_tokens=False)["input_ids"]
    with_prefix = encoder.tokenizer("passage: x", add_special_tokens=False)["input_ids"]
    return len(with_prefix) - len(bare)


def train(config: TrainConfig, output_dir: Path | str, stop_after: int | None = None, progress: bool = True) -> dict:
    """Train, or return the stored result when ``output_dir`` holds a finished run with these settings."""
    output_dir = Path(output_dir)
    done = output_dir / RESULT
    if done.is_file() and (output_dir / CHECKPOINT).is_file():
        state_config = torch.load(output_dir / CHECKPOINT, map_location="cpu", weights_only=False)["config"]
        if state_config == config.to_dict():
            return json.loads(done.read_text())
    return config.trainer_class()(config, output_dir).train(stop_after=stop_after, progress=progress)


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
