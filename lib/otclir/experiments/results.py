"""Computed results of a profile with their provenance, replaced only by complete results.

A notebook that trains or evaluates writes what its tables and figures need (results tables,
per-query measures, training logs, settings) for ``results/<profile>/<notebook>/``, with a
``provenance.json`` (:mod:`otclir.experiments.provenance`) that also holds the checksum and row
count of every file. Reporting mode reads them back, after checking that they were computed with
the settings asked for and that every file is the one that was written.

A recomputation never touches the results it may replace: it writes into a staging folder,
``results/.staging/<profile>/<notebook>/`` (git-ignored), and swaps it in only when everything is
written. A stopped or failing run leaves the previous results whole and its staging folder
behind; the next run with the same settings resumes from it. A lock beside the staging folder
refuses a second run into the same results while the first is alive.

``results/paper/`` is committed (the profile the stored notebooks show); other profiles' results
stay local (``.gitignore``). ``OTCLIR_RESULTS`` moves the root (tests send results to a temporary
folder).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from otclir.errors import OtclirError
from otclir.experiments.locks import FolderLock
from otclir.experiments.provenance import git_state, notebook_code, provenance, sha256_of, store_key
from otclir.paths import (PAPER_PROFILE, env_path, plain_name, project_root, relative_to_root,  # noqa: F401
                          under_command)
from otclir.settings import as_json, jsonable

PROVENANCE_FILE = "provenance.json"
SETTINGS_FILE = "settings.json"
CODE_FILE = "code.json"  # the fingerprint of the code a staged recomputation runs
STAGING = ".staging"
MAX_FILE_BYTES = 5 * 1024 * 1024


def results_root() -> Path:
    return env_path("OTCLIR_RESULTS", project_root() / "results")


class DamagedResults(OtclirError):
    """A stored result file that is not the one the computation wrote (or cannot be read)."""


class ResultStore:
    """The results one notebook computed for one profile: ``results/<profile>/<notebook>/``."""

    def __init__(self, profile: str, notebook: str):
        if not isinstance(profile, str) or not profile or "/" in profile or profile.startswith("."):
            raise OtclirError(f"a profile is a plain name like 'quick' or 'paper', got {profile!r}")
        plain_name(notebook, "a results store's name")
        self.profile, self.notebook = profile, notebook
        root = results_root()
        self.folder = root / profile / notebook
        self._code_at_start = None  # set by start(): the key of the code a recomputation runs
        self.staging = root / STAGING / profile / notebook
        self._previous = root / STAGING / profile / f"{notebook}.previous"
        self._lock = FolderLock(root / STAGING / profile / f"{notebook}.lock", self.folder)
        self._writing = False
        self._written: dict[str, dict] = {}
        self._records: tuple | None = None
        self._git = None

    # ------------------------------------------------------------------ reading
    def path(self, name: str) -> Path:
        """A file of the complete results."""
        return self.folder / name

    def staged(self, name: str) -> Path:
        """A file a stopped recomputation left in the staging folder."""
        return self.staging / name

    def exists(self) -> bool:
        self._recover()
        return (self.folder / PROVENANCE_FILE).is_file()

    def require(self) -> None:
        if not self.exists():
            base, _, custom = self.profile.partition("+")
            how = (f"run notebook {self.notebook[:2]} with `--profile {base}`, the same -p/-f overrides and `-p recompute "
                   "true`" if custom else f"`otclir run {self.notebook[:2]} --profile {self.profile} -p recompute true`")
            raise OtclirError(f"no results of profile '{self.profile}' at {relative_to_root(self.folder)}; compute them "
                              f"with {how}")

    def read_table(self, name: str, **kwargs) -> pd.DataFrame:
        path = self._checked(name)
        try:
            frame = pd.read_csv(path, **kwargs)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as error:
            raise DamagedResults(f"{relative_to_root(path)} cannot be read ({type(error).__name__}: "
                                 f"{str(error)[:100]}); {self._fix()}") from error
        expected = self._record(name).get("rows")
        if expected is not None and len(frame) != expected:
            raise DamagedResults(f"{relative_to_root(path)} has {len(frame)} rows, {expected} were written; {self._fix()}")
        return frame

    def read_json(self, name: str):
        path = self._checked(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DamagedResults(f"{relative_to_root(path)} is not valid JSON ({error}); {self._fix()}") from error

    def provenance(self) -> dict:
        return self.read_json(PROVENANCE_FILE)

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file())

    def recorded_files(self) -> list[str]:
        """The files the computation wrote, as provenance.json lists them (the folder's files for
        results stored before it did): a file deleted since is still named, and then refused."""
        self.require()
        record = self.provenance().get("files")
        return sorted(record) if record else self.files()

    def checked_path(self, name: str) -> Path:
        """The path of a stored file, refused (:class:`DamagedResults`) when it is missing or its
        bytes differ from the checksum provenance.json records: read files through this."""
        return self._checked(name)

    def _checked(self, name: str) -> Path:
        self.require()  # completes a swap a killed run left half done
        path = self.path(name)
        if not path.is_file():
            raise DamagedResults(f"{relative_to_root(path)} is missing from the results; {self._fix()}")
        expected = self._record(name).get("sha256")
        if expected is not None and sha256_of(path) != expected:
            raise DamagedResults(f"{relative_to_root(path)} is not the file that was written (its checksum differs "
                                 f"from provenance.json); {self._fix()}")
        return path

    def _record(self, name: str) -> dict:
        """What provenance.json says of a file (checksum and rows; empty for older results)."""
        path = self.folder / PROVENANCE_FILE
        if name == PROVENANCE_FILE or not path.is_file():
            return {}
        stamp = (path.stat().st_ino, path.stat().st_mtime_ns, path.stat().st_size)
        if self._records is None or self._records[0] != stamp:  # read again once another run replaced the results
            try:
                self._records = (stamp, json.loads(path.read_text(encoding="utf-8")).get("files", {}))
            except json.JSONDecodeError as error:
                raise DamagedResults(f"{relative_to_root(path)} is not valid JSON ({error}); {self._fix()}") from error
        return self._records[1].get(name, {})

    def _fix(self) -> str:
        tracked = self.profile == PAPER_PROFILE
        return ((f"restore the committed results with `git checkout -- {relative_to_root(self.folder)}`, or " if tracked
                 else "") + f"recompute them with `otclir run {self.notebook[:2]} --profile {self.profile} "
                "-p recompute true`")

    # ------------------------------------------------------------ checking settings
    def check_settings(self, settings: dict) -> None:
        """Reporting mode: the stored results must come from the settings asked for."""
        stored = self.read_json(SETTINGS_FILE)
        asked = as_json(settings)
        differ = sorted(k for k in set(stored) | set(asked) if stored.get(k) != asked.get(k))
        if differ:
            details = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {asked.get(k)!r}" for k in differ[:4])
            raise OtclirError(f"the results in {relative_to_root(self.folder)} were computed with other settings "
                              f"({details}); pass recompute=True to compute these, or use the stored settings")

    def staged_settings(self) -> dict | None:
        """The settings a stopped recomputation left in the staging folder (None: none left)."""
        path = self.staged(SETTINGS_FILE)
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except json.JSONDecodeError:
            return None

    def earlier_runs(self) -> list["EarlierRun"]:
        """What earlier runs left to resume from, first a stopped recomputation's staging folder,
        then the complete results; each with the settings it was computed with."""
        runs = []
        staged = self.staged_settings()
        if staged is not None and (_read_json(self.staged(CODE_FILE)) or {}).get("code") == self.code:
            runs.append(EarlierRun("stopped", staged, self.staging, None, self))
        if self.exists():
            try:
                record = self.provenance()
                if record.get("code") == self.code:  # a result computed by other code is recomputed, never kept
                    runs.append(EarlierRun("finished", self.read_json(SETTINGS_FILE), self.folder, record, self))
            except DamagedResults:
                pass  # damaged results are recomputed, not resumed from
        return runs

    # ------------------------------------------------------------------ writing
    @contextmanager
    def recomputing(self):
        """Hold the lock while the body computes: it reads what earlier runs left
        (:meth:`earlier_runs`), calls :meth:`start`, writes into the staging folder, and ends with
        :meth:`finish`, which swaps the results in. A body that stops leaves the previous results
        whole and the staging folder for the next run with the same settings to resume from."""
        self._lock.acquire()
        try:
            self._recover()
            yield self
        finally:
            self._writing = False
            self._lock.release()

    def _check_writer(self) -> None:
        """The committed paper results are written by the otclir command only: a paper notebook run
        in JupyterLab with ``recompute = True`` is refused before anything is written."""
        if self.profile == PAPER_PROFILE and not under_command() and not os.environ.get("OTCLIR_RESULTS"):
            raise OtclirError(f"results/{PAPER_PROFILE}/ holds the committed results and is written by the otclir "
                              f"command (`otclir run {self.notebook[:2]} --profile paper --store`), not from "
                              "JupyterLab or a script: set recompute = False to read them, or run the quick "
                              "profile (set OTCLIR_COMMAND=1 only where you mean to overwrite them)")

    def start(self, settings: dict) -> None:
        """Begin writing: keep what a stopped run with the same settings and code staged, else stage
        afresh; record the code's state now (commits made while a long run goes on must not be
        credited with its results)."""
        self._check_writer()
        staged_code = _read_json(self.staged(CODE_FILE))
        if self.staged_settings() != as_json(settings) or (staged_code or {}).get("code") != self.code:
            _remove(self.staging)
        self.staging.mkdir(parents=True, exist_ok=True)
        self._writing, self._written = True, {}
        self._git = git_state()
        self.write_json(SETTINGS_FILE, settings)
        key = self.key_record()
        self._code_at_start = key.get("code")  # the code this process loaded and computes with
        self.write_json(CODE_FILE, key)

    @property
    def code(self) -> str | None:
        """The fingerprint of the code that computes this store's results now."""
        return notebook_code(self.notebook)

    def key_record(self) -> dict:
        """What this store's key covers now: each unit of code its computation reaches with its
        digest, the data files those name and the package versions (``{"code": None}`` for a store
        nothing computes); ``code.json`` holds it, so a stale store can say what changed."""
        key = store_key(self.notebook)
        return key.record() if key else {"code": None}

    def _target(self, name: str) -> Path:
        if not self._writing:
            raise OtclirError(f"{self.notebook}: results are written only inside a recomputation (ResultStore.recomputing)")
        path = self.staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def _writing_file(self, path: Path):
        try:
            yield
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise OtclirError(f"the disk filled up while writing {relative_to_root(path)}; the previous results "
                                  f"in {relative_to_root(self.folder)} are untouched: free space and run again (it "
                                  "resumes from what was written)") from error
            raise

    def write_table(self, name: str, frame: pd.DataFrame, index: bool = False) -> Path:
        """A table as CSV; ``.gz`` names are compressed (deterministically: no timestamp)."""
        path = self._target(name)
        compression = {"method": "gzip", "mtime": 0} if name.endswith(".gz") else None
        with self._writing_file(path):
            frame.to_csv(path, index=index, float_format="%.6g", compression=compression)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise OtclirError(f"{relative_to_root(path)} is {path.stat().st_size / 2**20:.1f} MB; results files stay "
                              f"under {MAX_FILE_BYTES // 2**20} MB (split or compress it)")
        self._written[name] = {"rows": int(len(frame))}
        return path

    def write_json(self, name: str, value) -> Path:
        path = self._target(name)
        with self._writing_file(path):
            path.write_text(json.dumps(value, indent=1, sort_keys=True, default=jsonable) + "\n", encoding="utf-8")
        self._written[name] = {}
        return path

    def write_run(self, name: str, run, tag: str, depth: int) -> Path:
        """A TREC run, each query's top ``depth``, gzip-compressed without a timestamp (``name``
        ends in ``.run.gz``); :func:`read_run` reads it back."""
        import gzip

        from otclir.data import trec

        path = self._target(name)
        lines = [f"{q} Q0 {d} {rank} {score!r} {tag}\n" for q in sorted(run)
                 for rank, (d, score) in enumerate(trec.ranked(run[q])[:depth], start=1)]
        with self._writing_file(path), open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write("".join(lines).encode("utf-8"))
        self._written[name] = {"rows": len(lines)}
        return path

    def copy_file(self, source: Path, name: str) -> Path:
        """A file that an earlier run wrote, staged again under ``name`` (its record kept by finish)."""
        target = self._target(name)
        if Path(source).resolve() != target.resolve():
            with self._writing_file(target):
                shutil.copyfile(source, target)
        self._written.setdefault(name, {})
        return target

    def remove(self, name: str) -> None:
        """Delete a staged file or folder (intermediate parts once the whole is written)."""
        _remove(self._target(name))
        self._written = {k: v for k, v in self._written.items() if k != name and not k.startswith(name.rstrip("/") + "/")}

    def git_at_start(self) -> dict | None:
        return self._git

    def finish(self, wall_seconds: float, settings: dict, **extra) -> dict:
        """Write the provenance record (with every staged file's checksum and row count) and swap
        the staging folder in place of the previous results."""
        files = {}
        for path in sorted(p for p in self.staging.rglob("*") if p.is_file()):
            name = str(path.relative_to(self.staging))
            files[name] = {"sha256": sha256_of(path), **self._written.get(name, {})}
        # the key of the code that computed the results: the code at start, not an edit made while it ran
        # (otclir status then says the results are stale, and what changed)
        code = self._code_at_start or self.code
        record = {**provenance(wall_seconds, settings, self.git_at_start()), **extra, "files": files, "code": code}
        self.write_json(PROVENANCE_FILE, record)
        self._swap()
        self._writing = False
        return record

    def _swap(self) -> None:
        """Staging in, previous results out: two renames on one disk, recoverable in between."""
        _remove(self._previous)
        if self.folder.exists():
            os.replace(self.folder, self._previous)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.staging, self.folder)
        _remove(self._previous)

    def _recover(self) -> None:
        """Finish a swap a killed run left half done: the complete staging folder goes in place;
        without one, the previous results come back."""
        if self.folder.exists() or not self._previous.exists():
            return
        if (self.staging / PROVENANCE_FILE).is_file():
            os.replace(self.staging, self.folder)
        else:
            os.replace(self._previous, self.folder)
        _remove(self._previous)


def check_no_missing_values(frame: pd.DataFrame, label: str, columns, by=("system",)) -> None:
    """A per-query table must hold every value: NaN in a measure would make a paired test count
    nothing or everything. The error names the file, the system and the queries."""
    for column in columns:
        if column not in frame.columns:
            raise DamagedResults(f"{label} has no column {column!r}; recompute the results")
        empty = frame[frame[column].isna()]
        if len(empty):
            keys = [k for k in by if k in empty.columns]
            first = empty.iloc[0]
            where = ", ".join(f"{k} {first[k]}" for k in keys)
            queries = ", ".join(str(q) for q in empty.get("query", pd.Series(dtype=str)).head(5))
            raise DamagedResults(f"{label}: {len(empty)} empty {column} value(s), first for {where or 'a row'}"
                                 + (f" (queries {queries})" if queries else "") + "; the per-query measures must be "
                                 "whole: recompute the results or restore the file")


def check_covers(found, expected, label: str, what: str) -> None:
    """Stored results must hold every ``what`` the settings ask for (a language, a system, a seed)."""
    missing = [x for x in expected if x not in set(found)]
    if missing:
        raise DamagedResults(f"{label} lacks {what} {', '.join(map(str, missing[:6]))} that its settings name; the "
                             "results are partial: recompute them or restore the files")


class EarlierRun:
    """Read access to the files an earlier run left: a stopped run's staging folder (``record``
    None) or the complete results (read through the store, so checksums are checked)."""

    def __init__(self, kind: str, settings: dict, folder: Path, record: dict | None, store: ResultStore):
        self.kind, self.settings, self.folder, self.record, self._store = kind, settings, folder, record, store

    def has(self, *names: str) -> bool:
        return all((self.folder / n).is_file() for n in names)

    def table(self, name: str, **kwargs) -> pd.DataFrame:
        if self.kind == "finished":
            return self._store.read_table(name, **kwargs)
        try:
            return pd.read_csv(self.folder / name, **kwargs)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as error:
            raise DamagedResults(f"{relative_to_root(self.folder / name)} of a stopped run cannot be read "
                                 f"({type(error).__name__}); delete {relative_to_root(self.folder)} to start afresh") from error

    def json(self, name: str):
        if self.kind == "finished":
            return self._store.read_json(name)
        try:
            return json.loads((self.folder / name).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DamagedResults(f"{relative_to_root(self.folder / name)} of a stopped run is not valid JSON; delete "
                                 f"{relative_to_root(self.folder)} to start afresh") from error


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except json.JSONDecodeError:
        return None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
