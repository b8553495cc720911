"""Distillation from a teacher that is not the student (OPTICAL's own setting): an English
retrieval model (all-MiniLM-L6-v2 by default) reads the English side of the bitext and the
queries; the multilingual student (e5-small) reads the other side, and its states pass through a
learned linear map into the teacher's space before any term compares them.

The two spaces start unrelated (token cosines about 0), so the map is initialised in closed form
(:func:`otclir.retrieval.linear_map.fit_map`, ridge or Procrustes) on the training pairs' pooled
states, exactly the vectors the sentence term compares: the first transport plan is solved
between already aligned spaces, and the map is then trained with the student. The map is applied
to every token state of the student's last layer (pooling commutes with it), is saved beside
each saved student (``linear_map.npy``, see :func:`load_map`) and in checkpoints, and maps the
dev documents before they are ranked against the teacher's queries.

Terms compare the student's English-side target texts only (as the self-teacher students do);
the plan is solved on the mapped last-layer states (a fixed plan or a middle layer would compare
states the map was not fitted on, and is refused), and the gold-alignment AER is not computed
(the teacher's tokens are not the student's).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from otclir.errors import OtclirError
from otclir.retrieval.linear_map import KINDS, fit_map
from otclir.settings import choice, number, setting, text
from otclir.training.configs import DistillConfig
from otclir.training.dev_folds import FoldedDevDistiller

MAP_FILE = "linear_map.npy"


@dataclass
class CrossTeacherConfig(DistillConfig):
    teacher: str = setting("minilm-teacher", check=text())  # frozen; reads the English side and the queries
    map_init: str = setting("ridge", check=choice(KINDS, "map initialisations"))
    map_alpha: float = setting(1.0, check=number(0))  # the ridge penalty of the initial map

    def __post_init__(self):
        super().__post_init__()
        if self.teacher == self.student:
            raise OtclirError(f"teacher and student are both '{self.student}': a cross-model teacher is another model; "
                              "train the self-teacher with DistillConfig")
        if self.plan == "fixed" or self.plan_layer is not None:
            raise OtclirError("under a cross-model teacher the plan is solved on the mapped last-layer states: use "
                              "plan 'adaptive' (or 'statistical') with plan_layer None")

    def trainer_class(self) -> type:
        return CrossTeacherDistiller


class CrossTeacherDistiller(FoldedDevDistiller):
    """The answers' trainer (dev checks per fold) with a learned map from the student's space
    into the teacher's."""

    config: CrossTeacherConfig

    def prepare_data(self):
        from otclir.training.loop import linear_schedule

        if self.world > 1:
            raise OtclirError("a cross-model teacher trains in one process (its map is not shared across ranks)")
        sampler = super().prepare_data()
        self.gold_aer = None  # the gold alignment is between the student's tokens and its own English tokens
        initial = self.initial_map()
        self.map = torch.nn.Linear(initial.shape[0], initial.shape[1], bias=False).to(self.student.device)
        with torch.no_grad():
            self.map.weight.copy_(torch.from_numpy(initial.T.copy()).float())
        self.optimizer.add_param_group({"params": list(self.map.parameters()), "weight_decay": 0.0})
        self.scheduler = linear_schedule(self.optimizer, self.config.steps, self.config.warmup)  # now with the map
        return sampler

    def initial_map(self) -> np.ndarray:
        """The closed-form map of the student's pooled states of the target texts onto the
        teacher's pooled states of their English sides (unnormalised, as the sentence term sees
        them), fitted on the training pairs."""
        from otclir.models.state_cache import frozen_states, texts_key

        cfg = self.config
        english = [pair[0] for pair in self.pairs]

        def pooled(encoder, texts):
            key = ("pooled", encoder.spec.path, encoder.spec.delta, cfg.max_length, texts_key(texts))
            return frozen_states(key, lambda: encoder.encode(texts, kind="passage", normalize=False,
                                                             show_progress=self.show_progress))

        return fit_map(pooled(self.student, self.target), pooled(self.teacher, english), cfg.map_init, cfg.map_alpha)

    def map_matrix(self) -> np.ndarray:
        """The map as it is now: (student width x teacher width)."""
        return self.map.weight.detach().cpu().numpy().T.astype(np.float64)

    def states_of(self, rows: list[int], module=None):
        states = super().states_of(rows, module)
        states.student_tokens = self.map(states.student_tokens)
        states.student_sentences = self.map(states.student_sentences)
        return states

    def document_vectors(self, docs: list[str], lower) -> np.ndarray:
        from otclir.retrieval.linear_map import apply_map

        return apply_map(super().document_vectors(docs, lower), self.map_matrix()).astype(np.float32)

    def checkpoint_state(self) -> dict:
        return {**super().checkpoint_state(), "map": self.map.weight.detach().cpu().clone()}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        with torch.no_grad():
            self.map.weight.copy_(state["map"])

    def save_student(self, weights: dict[str, torch.Tensor], folder: Path) -> Path:
        folder = super().save_student(weights, folder)
        np.save(folder / MAP_FILE, self.map_matrix())
        return folder


def load_map(folder: Path | str) -> np.ndarray:
    """The map saved beside a student a cross-model teacher trained (student width x teacher width)."""
    path = Path(folder) / MAP_FILE
    if not path.is_file():
        raise OtclirError(f"{folder} holds no {MAP_FILE}: it is not a student of a cross-model teacher (those are "
                          "trained with CrossTeacherConfig)")
    return np.load(path)
