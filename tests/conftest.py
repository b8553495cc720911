import pytest


@pytest.fixture
def tmp_outputs(tmp_path, monkeypatch):
    """Send outputs (metrics, executed notebooks, derived data) to a temporary folder."""
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path / "outputs"


@pytest.fixture(scope="session")
def web():
    """World English Bible (public domain) verses."""
    from otclir.data.bible import read_version

    return read_version("4")


def torchrun_checksums(module: str, settings: dict, folder, port: int) -> tuple[list[str], dict]:
    """Train ``settings`` with ``python -m <module>`` on 2 gloo processes under torchrun; returns
    each rank's parameter checksum and the run's result."""
    import json
    import subprocess
    import sys

    import yaml

    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    out = folder / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", str(port), "-m", module, "--config", str(config),
                             "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text())["parameter_checksum"] for r in (0, 1)]
    return ranks, json.loads((out / "result.json").read_text())
