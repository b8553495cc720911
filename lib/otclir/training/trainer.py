"""Training runs by their settings: :func:`train` trains (or resumes, or returns the stored result
of) one run, and the command line runs one under ``torchrun`` too:

    torchrun --nproc_per_node 2 -m otclir.training.trainer --config run.yaml --output outputs/train/x

The settings are :mod:`otclir.training.configs`; the loop is :mod:`otclir.training.loop`, the
objectives :mod:`otclir.training.distillation` and :mod:`otclir.training.hybrid`; what a run
keeps on disk is :mod:`otclir.training.checkpoints`.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from otclir.training.checkpoints import finished_result, with_paths
from otclir.training.configs import DistillConfig, TrainConfig


def train(config: TrainConfig, output_dir: Path | str, stop_after: int | None = None, progress: bool = True) -> dict:
    """Train, or return the stored result when ``output_dir`` holds a finished run with these settings."""
    output_dir = Path(output_dir)
    stored = finished_result(output_dir)
    if stored and stored["config"] == config.to_record():
        return with_paths(stored, output_dir)
    return config.trainer_class()(config, output_dir, progress=progress).train(stop_after=stop_after, progress=progress)


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
