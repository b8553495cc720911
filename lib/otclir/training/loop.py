"""The training loop every objective shares (:class:`Trainer`): DistributedDataParallel,
optimiser and schedule, dev checks with early stopping and dev selection, checkpoints that resume
to the same weights, and the saved students.

A subclass loads its data and sampler in ``prepare_data`` and returns one step's losses (for this
rank's share of the next batch) from ``batch_losses``; ``evaluate_dev`` scores the student. Under
``torchrun`` the trained layers are wrapped in DDP (gloo on CPU, nccl on GPUs) and each rank takes
its share of every batch of one shared batch plan. A student's lowest ``frozen_layers`` layers keep
the base weights and run without gradients.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from otclir.errors import OtclirError
from otclir.training.checkpoints import (
    CHECKPOINT,
    LOG,
    RESULT,
    check_disk_space,
    finished_result,
    parameter_checksum,
    read_checkpoint,
    save_student,
    with_paths,
    write_checkpoint,
)
from otclir.training.configs import TrainConfig
from otclir.models.state_cache import frozen_states


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


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[2]) if name.startswith("encoder.layer.") else None


def _no_decay(name: str) -> bool:
    return name.endswith(".bias") or "LayerNorm" in name


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

    def checkpoint_state(self) -> dict:
        """What a checkpoint holds besides :meth:`extra_state` (which the result also records)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def before_training(self) -> None:
        """Runs once before the first step of a fresh (not resumed) run."""

    # ------------------------------------------------------ shared pieces
    def content_mask(self, encoder, input_ids, attention_mask, kind: str | None = "passage"):
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

    # ------------------------------------------------------------ checkpoints
    def disk_bytes_needed(self) -> int:
        """What a run writes at most: the best and the final student (the trained weights each),
        and a checkpoint (weights and two optimiser moments) written beside the previous one."""
        params = dict(self.student.model.named_parameters())
        weights = sum(params[n].numel() * params[n].element_size() for n in self.trainable)
        return 2 * weights + 2 * 3 * weights

    def check_disk_space(self) -> None:
        if not self.rank:
            check_disk_space(self.output_dir, self.disk_bytes_needed())

    def trained_state(self) -> dict[str, torch.Tensor]:
        state = self.student.model.state_dict()
        return {n: state[n].detach().cpu().clone() for n in self.trainable}

    def save_checkpoint(self) -> None:
        if self.rank:
            return
        state = {"config": self.config.to_record(), "step": self.step, "weights": self.trained_state(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "sampler": self.sampler.state_dict(), "torch_rng": torch.get_rng_state(),
                 "history": self.history, "best": self.best, "bad_evals": self.bad_evals,
                 "extra": {**self.extra_state(), **self.checkpoint_state()}}
        write_checkpoint(self.output_dir, state)

    def load_checkpoint(self) -> bool:
        path = self.output_dir / CHECKPOINT
        if not path.is_file():
            finished = finished_result(self.output_dir)
            if finished and finished["config"] and finished["config"] != self.config.to_record():
                raise OtclirError(f"{self.output_dir / RESULT} is a finished run with other settings; "
                                  "use another output folder or delete it")
            return False
        state = read_checkpoint(path)
        if state["config"] != self.config.to_record():
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
        return save_student(folder, weights, self.config.student, self.step, self.config.to_record())

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
            result["config"] = self.config.to_record()
            (self.output_dir / RESULT).write_text(json.dumps(result, indent=1) + "\n")
            # The resume state (optimiser moments, sampler, RNG) is three times the size of a student
            # and of no use once the run is finished: the students and the result stay.
            (self.output_dir / CHECKPOINT).unlink(missing_ok=True)
            return with_paths(result, self.output_dir)
        return result
