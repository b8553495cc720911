"""What a training run keeps on disk, and reading it back.

A run folder holds ``log.jsonl`` (one record per step), ``checkpoint.pt`` while the run goes on
(trained weights, optimiser, scheduler, sampler and random state: a killed run resumes to the
same weights), the dev-best and final students (``best/``, ``final/``: the base model's id plus
the trained weights) and, once finished, ``result.json`` with the run's settings. The
checkpoint is deleted when the run finishes: three times a student's size, of no use then.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from otclir.errors import OtclirError

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
LOG = "log.jsonl"


def parameter_checksum(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write_checkpoint(folder: Path, state: dict) -> None:
    """The resume state, replacing the previous one only once it is whole on disk."""
    tmp = folder / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, folder / CHECKPOINT)


def read_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (EOFError, RuntimeError, OSError, ValueError) as error:
        raise OtclirError(f"{path} is damaged ({type(error).__name__}: {str(error)[:80]}); delete it to train this "
                          "run again from its start") from error


def save_student(folder: Path, weights: dict[str, torch.Tensor], base: str, step: int, config: dict) -> Path:
    """A student as its base model id plus its trained weights; ``Encoder(folder)`` loads it."""
    from safetensors.torch import save_file

    from otclir.models.registry import DISTILLED_MARKER

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in weights.items()}, folder / "student.safetensors")
    (folder / DISTILLED_MARKER).write_text(json.dumps(
        {"base": base, "weights": "student.safetensors", "step": step, "config": config}, indent=1) + "\n")
    return folder


def check_disk_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OtclirError(
            f"{folder} is on a disk with {free / 1e6:.0f} MB free, and this run writes up to "
            f"{needed / 1e6:.0f} MB (students and checkpoints): free space there, or set OTCLIR_OUTPUTS "
            "to a folder on a larger disk")


def finished_result(output_dir: Path | str) -> dict | None:
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
        return read_checkpoint(output_dir / CHECKPOINT)["config"]
    marker = output_dir / "final" / DISTILLED_MARKER
    return json.loads(marker.read_text())["config"] if marker.is_file() else None


def with_paths(result: dict, output_dir: Path) -> dict:
    """A run's result with its students' folders as paths (the file stores them relative)."""
    return {**result, **{k: str(Path(output_dir) / result[k]) for k in ("model", "final_model") if k in result}}


def read_log(output_dir: Path | str):
    import pandas as pd

    path = Path(output_dir) / LOG
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows).drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)
