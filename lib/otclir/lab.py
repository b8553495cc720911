"""JupyterLab that cannot change the paper's files.

``make lab`` starts JupyterLab with :func:`refuse_stored_notebook_save` as its pre-save hook: a
stored notebook (``notebooks/NN_*.ipynb``, what ``otclir run NN --profile paper --store`` writes)
is never overwritten from Lab; "Save Notebook As..." keeps an edited copy anywhere else. Together
with :func:`otclir.paths.figures_dir` and the results store (a paper notebook run in Lab writes its
figures to ``outputs/figures/paper+lab/`` and may not recompute ``results/paper/``), a "Run all"
and a save in Lab leave ``git status`` clean. Use it from any Jupyter server with::

    jupyter lab --FileContentsManager.pre_save_hook=otclir.lab.refuse_stored_notebook_save
"""
from __future__ import annotations

import re
from pathlib import Path

from otclir.paths import project_root

STORED = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")


def is_stored_notebook(path: Path) -> bool:
    """True for ``notebooks/NN_name.ipynb`` of this project (the stored, executed notebooks)."""
    path = Path(path).resolve()
    return path.parent == (project_root() / "notebooks").resolve() and bool(STORED.fullmatch(path.name))


def refuse_stored_notebook_save(model, path, contents_manager, **kwargs) -> None:
    """A Jupyter server pre-save hook: refuse (HTTP 403, the message shown in Lab) to overwrite a
    stored notebook, naming what to do instead."""
    from tornado.web import HTTPError

    if model.get("type") != "notebook":
        return
    target = Path(contents_manager.root_dir) / path
    if is_stored_notebook(target):
        raise HTTPError(403, f"{path} is a stored notebook of the paper: Lab does not overwrite it. Keep your "
                             "changes with File > Save Notebook As... (a copy anywhere else), or regenerate it with "
                             f"`otclir run {target.name[:2]} --profile paper --store`")
