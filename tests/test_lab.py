"""JupyterLab cannot change the paper's files: a stored notebook run headless as Lab runs it (a
kernel started outside the otclir command) and then saved through the Jupyter server's contents
manager with the project's pre-save hook leaves `git status` clean."""
import subprocess

import nbformat
import pytest

from otclir.lab import is_stored_notebook
from otclir.paths import project_root

pytestmark = pytest.mark.slow


def _status(root):
    return subprocess.run(["git", "status", "--porcelain", "--", "notebooks", "figures", "results"], cwd=root,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.cost(120)
def test_run_all_and_save_of_a_stored_notebook_leave_git_status_clean(tmp_path, monkeypatch):
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from nbclient import NotebookClient
    from tornado.web import HTTPError

    root = project_root()
    if subprocess.run(["git", "rev-parse"], cwd=root, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    before = _status(root)
    for name in ("OTCLIR_FIGURES", "OTCLIR_COMMAND", "OTCLIR_RESULTS"):  # as Lab runs a kernel
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTCLIR_OUTPUTS", str(tmp_path / "outputs"))
    path = root / "notebooks" / "01_data_exploration.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    assert any((tmp_path / "outputs" / "figures" / "paper+lab").glob("01_*.pdf"))  # its figures went aside
    manager = FileContentsManager(root_dir=str(root), pre_save_hook="otclir.lab.refuse_stored_notebook_save")
    with pytest.raises(HTTPError, match="stored notebook of the paper.*Save Notebook As"):
        manager.save({"type": "notebook", "format": "json", "content": nb}, "notebooks/01_data_exploration.ipynb")
    assert _status(root) == before


def test_only_the_numbered_notebooks_are_stored_ones():
    notebooks = project_root() / "notebooks"
    assert is_stored_notebook(notebooks / "03_distillation_training.ipynb")
    assert not is_stored_notebook(notebooks / "my_copy.ipynb")
    assert not is_stored_notebook(project_root() / "03_distillation_training.ipynb")
