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
