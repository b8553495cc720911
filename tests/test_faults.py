"""Faults: nothing stored is lost and nothing silently wrong.

Stored results are replaced only by complete results (a recomputation killed at any point leaves
the previous ones whole and resumes); a second run into the same folder is refused; a full disk
is named; damaged or partial stored results are refused by name; settings are checked before
anything is touched. Each case asserts its message and that what was stored did not change.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from otclir.errors import OtclirError
from otclir.experiments.provenance import sha256_of
from otclir.experiments.results import DamagedResults, ResultStore

PROJECT = Path(__file__).resolve().parents[1]

WRITER = r'''
import json, os, signal, sys
import pandas as pd
from otclir.experiments.results import ResultStore

kill_at, version = sys.argv[1], int(sys.argv[2])
store = ResultStore("paper", "03_faults")
computed = []

def die(point):
    if kill_at == point:
        os.kill(os.getpid(), signal.SIGKILL)

if kill_at == "swap":  # killed between the two renames of the swap
    real, calls = os.replace, []
    def replace(a, b):
        real(a, b)
        calls.append(1)
        if len(calls) == 1:
            die("swap")
    os.replace = replace

with store.recomputing():
    store.start({"version": version})
    for i in range(4):
        name = f"part-{i}.csv"
        if not store.staged(name).is_file():  # resumes: what a stopped run staged is not computed again
            store.write_table(name, pd.DataFrame({"x": [i, version]}))
            computed.append(i)
        die(f"table-{i}")
    die("before-finish")
    store.finish(1.0, {"version": version})
print(json.dumps(computed))
'''


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _writer(tmp_path, kill_at: str, version: int):
    env = {**os.environ, "OTCLIR_RESULTS": str(tmp_path / "results")}
    return subprocess.run([sys.executable, "-c", WRITER, kill_at, str(version)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_a_recomputation_killed_at_several_points_leaves_the_previous_results_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    store = ResultStore("paper", "03_faults")
    assert _writer(tmp_path, "none", 1).returncode == 0
    before = snapshot(store.folder)
    lines = []
    for point in ("table-0", "table-2", "before-finish"):
        done = _writer(tmp_path, point, 2)
        assert done.returncode == -signal.SIGKILL
        assert snapshot(store.folder) == before, point  # the previous results, whole
        assert store.read_table("part-0.csv").x.tolist() == [0, 1]
        staged = sorted(p.name for p in store.staging.glob("part-*.csv"))
        lines.append(f"killed at {point}: previous results unchanged, {len(staged)} table(s) staged")
    resumed = _writer(tmp_path, "none", 2)
    assert resumed.returncode == 0 and json.loads(resumed.stdout) == []  # every table came from the staging folder
    assert store.read_table("part-3.csv").x.tolist() == [3, 2] and not store.staging.exists()
    lines.append("rerun: resumed, computed 0 of 4 tables, results replaced")
    assert _writer(tmp_path, "swap", 3).returncode == -signal.SIGKILL
    assert not store.folder.exists()  # killed between the renames
    assert ResultStore("paper", "03_faults").read_table("part-1.csv").x.tolist() == [1, 3]  # the swap is completed
    lines.append("killed inside the swap: the next reader completes it")
    print("\n".join(lines))


LOCK_HOLDER = r'''
import sys, time
from otclir.experiments.results import ResultStore
store = ResultStore("paper", "03_faults")
with store.recomputing():
    print("holding", flush=True)
    time.sleep(60)
'''


def test_two_runs_into_one_results_folder_are_refused_with_the_first_runs_process(tmp_path, monkeypatch):
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OTCLIR_RESULTS": str(tmp_path / "results")})
    try:
        assert holder.stdout.readline().strip() == "holding"
        store = ResultStore("paper", "03_faults")
        with pytest.raises(OtclirError, match=rf"another run computes into .*process {holder.pid} on .*, started "):
            with store.recomputing():
                pass
    finally:
        holder.kill()
        holder.wait()
    with ResultStore("paper", "03_faults").recomputing():  # a killed owner's lock is taken over
        pass


def test_two_runs_of_one_notebook_into_one_folder_are_refused(tmp_outputs):
    from otclir import runner
    from otclir.experiments.locks import FolderLock

    target = tmp_outputs / "notebooks" / runner.run_name("quick", overrides={"sample_verses": 20}) / "01_data_exploration.ipynb"
    lock = FolderLock(target.with_name("01_data_exploration.lock"), target)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.path.parent.mkdir(parents=True, exist_ok=True)
        lock.path.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "just now"}))
        with pytest.raises(OtclirError, match=f"another run computes into .*01_data_exploration.ipynb: process {holder.pid}"):
            runner.run_notebook("01", overrides={"sample_verses": 20})
    finally:
        holder.kill()
        holder.wait()
    assert not target.exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the kernel through /proc")
def test_a_stop_signal_to_a_run_interrupts_its_kernel_and_keeps_what_was_staged(tmp_path):
    """The kernel runs in a session of its own: a Ctrl-C (SIGINT) or SIGTERM to `otclir run` must
    reach it, or the run computes on with nobody waiting for it."""
    import time

    from otclir.runner import _child_processes

    params = tmp_path / "mini.yaml"
    params.write_text("languages: [sw]\nbudgets: [16]\nobjectives: [sentence_mse]\nstudy: null\n"
                      "training: {batch_size: 8, max_length: 16}\ntest_queries: 10\ntest_docs: 40\nscorers: [mean]\n"
                      "tasks: [crossref]\ntraining_seeds: null\nrecompute: true\n")
    env = {**os.environ, **{f"OTCLIR_{k}": str(tmp_path / k.lower()) for k in ("RESULTS", "OUTPUTS", "FIGURES")}}
    run = subprocess.Popen([sys.executable, "-m", "otclir.cli", "run", "03", "-f", str(params)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = tmp_path / "results" / ".staging" / "quick+custom" / "03_distillation_training"
    deadline = time.time() + 240
    while not (staging / "settings.json").is_file() and time.time() < deadline and run.poll() is None:
        time.sleep(0.5)
    kernels = _child_processes(run.pid)
    assert kernels and run.poll() is None, "the run should be computing"
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1 and "KeyboardInterrupt" in err and "failed in cell" in err
    time.sleep(1)
    assert not any(Path(f"/proc/{k}").exists() for k in kernels)  # the kernel is gone with the run
    assert (staging / "settings.json").is_file()  # what it had begun stays staged for a resume
    assert not (tmp_path / "results" / "quick+custom" / "03_distillation_training" / "results.csv").exists()


def test_a_full_disk_while_writing_is_named_and_the_previous_results_stay(tmp_path, monkeypatch):
    import errno

    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path / "results"))
    store = ResultStore("quick", "03_faults")
    with store.recomputing():
        store.start({"v": 1})
        store.write_table("a.csv", pd.DataFrame({"x": [1]}))
        store.finish(1.0, {"v": 1})
    before = snapshot(store.folder)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with store.recomputing():
        store.start({"v": 2})
        monkeypatch.setattr(pd.DataFrame, "to_csv", full)
        with pytest.raises(OtclirError, match="the disk filled up while writing .*a.csv; the previous results .* are "
                                              "untouched: free space and run again"):
            store.write_table("a.csv", pd.DataFrame({"x": [2]}))
    assert snapshot(store.folder) == before


# ------------------------------------------------------------------ damaged or partial stored results
@pytest.fixture
def paper_copy(tmp_path, monkeypatch):
    """A copy of the committed paper results in a temporary results root."""
    root = tmp_path / "results"
    shutil.copytree(PROJECT / "results" / "paper", root / "paper")
    monkeypatch.setenv("OTCLIR_RESULTS", str(root))
    return root / "paper"


def _blank_ap(folder: Path):
    path = folder / "03_distillation_training" / "perquery_en-sw.csv.gz"
    frame = pd.read_csv(path, dtype={"query": str})
    frame.loc[frame.index[:30], "AP"] = float("nan")
    frame.to_csv(path, index=False, compression={"method": "gzip", "mtime": 0})


def _drop_french(folder: Path):
    path = folder / "03_distillation_training" / "results.csv"
    frame = pd.read_csv(path)
    frame[frame.language != "fr"].to_csv(path, index=False)


def _cut_mid_row(folder: Path):
    path = folder / "03_distillation_training" / "results.csv"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _empty_results(folder: Path):
    (folder / "03_distillation_training" / "results.csv").write_text("")


def _forget_checksums(folder: Path):
    path = folder / "03_distillation_training" / "provenance.json"
    record = json.loads(path.read_text())
    record.pop("files")
    path.write_text(json.dumps(record))


def _drop_french_unrecorded(folder: Path):
    _forget_checksums(folder)
    _drop_french(folder)


def _blank_ap_unrecorded(folder: Path):
    _forget_checksums(folder)
    _blank_ap(folder)


def _damage_provenance(folder: Path):
    path = folder / "03_distillation_training" / "provenance.json"
    path.write_text(path.read_text()[:100])


def _drop_a_seed(folder: Path):
    path = folder / "04_hybrid_batch_ablations" / "summary.csv"
    frame = pd.read_csv(path)
    frame[frame.seed != 2].to_csv(path, index=False)
    _forget_checksums_04(folder)


def _forget_checksums_04(folder: Path):
    path = folder / "04_hybrid_batch_ablations" / "provenance.json"
    record = json.loads(path.read_text())
    record.pop("files")
    path.write_text(json.dumps(record))


def _delete_a_per_query_part(folder: Path):
    (folder / "04_hybrid_batch_ablations" / "perquery-bitext-1.csv.gz").unlink()


def _read_distillation():
    from otclir.experiments import distillation

    distillation.load(ResultStore("paper", distillation.NOTEBOOK))


def _read_grid():
    import yaml

    from otclir.experiments.ablation import HybridParameters, read_stored_grid

    section = yaml.safe_load((PROJECT / "profiles" / "paper.yaml").read_text())["04_hybrid_batch_ablations"]
    grid = HybridParameters.from_dict({k: v for k, v in section.items() if k in HybridParameters.names()}).grid()
    read_stored_grid(ResultStore("paper", "04_hybrid_batch_ablations"), grid)


STORED_CASES = [
    ("NaN in 30 per-query AP values", _blank_ap, _read_distillation, "perquery_en-sw.csv.gz is not the file that was written"),
    ("NaN where no checksum was recorded", _blank_ap_unrecorded, _read_distillation,
     r"perquery_en-sw.csv.gz: 30 empty AP value\(s\), first for (task \w+, )?system .* \(queries "),
    ("results.csv without its French rows", _drop_french, _read_distillation, "results.csv is not the file that was written"),
    ("French rows gone where no checksum was recorded", _drop_french_unrecorded, _read_distillation,
     "results.csv lacks language.s. fr that its settings name"),
    ("results.csv cut mid-row", _cut_mid_row, _read_distillation, "results.csv is not the file that was written"),
    ("a 0-byte results.csv", _empty_results, _read_distillation, "results.csv is not the file that was written"),
    ("a damaged provenance.json", _damage_provenance, _read_distillation, "provenance.json is not valid JSON"),
    ("notebook 04's summary without a seed", _drop_a_seed, _read_grid,
     r"summary.csv lacks configuration\(s\) \(alpha, lambda, budget, seed\)"),
    ("a per-query part of notebook 04 deleted", _delete_a_per_query_part, _read_grid,
     "perquery-bitext-1.csv.gz is missing from the results"),
]


@pytest.mark.parametrize("label,damage,read,message", STORED_CASES, ids=[c[0] for c in STORED_CASES])
def test_damaged_or_partial_stored_results_are_refused_by_name(label, damage, read, message, paper_copy):
    damage(paper_copy)
    after_damage = snapshot(paper_copy)
    with pytest.raises(DamagedResults, match=message) as error:
        read()
    assert "recompute" in str(error.value) or "restore" in str(error.value)
    assert snapshot(paper_copy) == after_damage  # reading changed nothing


def test_the_committed_results_read_whole(paper_copy):
    _read_distillation()
    _read_grid()


# ------------------------------------------------------------------ settings checked first
def _notebook(name, **overrides):
    from otclir import runner

    return lambda: runner.resolve_parameters(runner.notebook_path(name), "paper", overrides=overrides)


SETTING_CASES = [
    ("budgets [-5]", _notebook("03", budgets=[-5]), "budgets[0] must be a whole number of at least 1, or None, got -5"),
    ("budgets [0]", _notebook("03", budgets=[0]), "budgets[0] must be a whole number of at least 1"),
    ("budgets ['abc']", _notebook("03", budgets=["abc"]), "budgets[0] must be a whole number"),
    ("test_queries -1", _notebook("03", test_queries=-1), "test_queries must be a whole number of at least 2"),
    ("test_queries 0", _notebook("03", test_queries=0), "test_queries must be a whole number of at least 2"),
    ("rerank_depth -3", _notebook("03", rerank_depth=-3), "rerank_depth must be a whole number of at least 1"),
    ("objectives []", _notebook("03", objectives=[]), "give at least one value in objectives"),
    ("training lr 'abc'", _notebook("03", training={"lr": "abc"}), "lr must be positive, got 'abc'"),
    ("training lr '3e-4'", _notebook("03", training={"lr": "3e-4"}), "YAML reads 3e-4 as text"),
    ("a study language xx", _notebook("03", study={"language": "xx"}), "unknown language 'xx'"),
    ("study lrs [-1]", _notebook("03", study={"lrs": [-1]}), "lrs[0] must be positive, got -1"),
    ("languages [en] for 03", _notebook("03", languages=["en"]), "language and query_language are both 'en'"),
    ("seeds ['a']", _notebook("04", seeds=["a"]), "seeds[0] must be a whole number of at least 0, got 'a'"),
    ("seeds [0, 0]", _notebook("04", seeds=[0, 0]), "seeds names 0 twice"),
    ("alpha 5 for 05", _notebook("05", alpha=5), "alpha must be a significance level in (0, 1), got 5"),
    ("n_permutations -5 for 05", _notebook("05", n_permutations=-5), "n_permutations must be a whole number of at least 100"),
    ("sample_verses 'abc' for 01", _notebook("01", sample_verses="abc"), "sample_verses must be a whole number"),
    ("recompute 'yes'", _notebook("03", recompute="yes"), "recompute must be true or false, got 'yes'"),
    ("a malformed verse id for 02", _notebook("02", greek_verse="4300101"), "malformed verse id '4300101'"),
    ("an unknown measure for 05", _notebook("05", measures=["AP", "P@0"]), "measure 'P@0' has cutoff 0"),
]


@pytest.mark.parametrize("label,call,message", SETTING_CASES, ids=[c[0] for c in SETTING_CASES])
def test_a_bad_setting_is_refused_before_anything_is_touched(label, call, message, tmp_outputs):
    before = snapshot(PROJECT / "results" / "paper")
    with pytest.raises(OtclirError, match=re.escape(message)):
        call()
    assert snapshot(PROJECT / "results" / "paper") == before
    assert not any((tmp_outputs / "notebooks").rglob("*.ipynb")) if (tmp_outputs / "notebooks").exists() else True


def test_an_unknown_or_malformed_profile_section_is_refused(tmp_path, monkeypatch):
    from otclir import runner

    (tmp_path / "mine.yaml").write_text("03_distilation_training:\n  budgets: [500]\n")
    (tmp_path / "bad.yaml").write_text("03_distillation_training: [500]\n")
    monkeypatch.setattr(runner, "profiles_dir", lambda: tmp_path)
    with pytest.raises(OtclirError, match="mine.yaml: unknown section '03_distilation_training'; a section is named "
                                          "after a notebook: 01_data_exploration"):
        runner.load_profile("mine")
    with pytest.raises(OtclirError, match="section '03_distillation_training' must be a mapping"):
        runner.load_profile("bad")


def test_a_notebook_given_by_its_path_is_that_file(tmp_path):
    from otclir import runner

    mine = tmp_path / "my" / "01_data_exploration.ipynb"
    mine.parent.mkdir()
    shutil.copy(PROJECT / "notebooks" / "01_data_exploration.ipynb", mine)
    assert runner.notebook_path(str(mine)) == mine
    assert runner.notebook_path("01") == PROJECT / "notebooks" / "01_data_exploration.ipynb"
    with pytest.raises(OtclirError, match="no notebook file"):
        runner.notebook_path(str(tmp_path / "missing" / "01_data_exploration.ipynb"))


def test_relative_folders_in_the_environment_are_made_absolute_once(tmp_path, monkeypatch):
    from otclir.paths import outputs_dir, resolve_environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OTCLIR_OUTPUTS", "rel/outputs")
    resolve_environment()
    assert os.environ["OTCLIR_OUTPUTS"] == str(tmp_path / "rel" / "outputs")
    monkeypatch.chdir(PROJECT / "notebooks")  # where papermill runs a notebook
    assert outputs_dir("metrics") == tmp_path / "rel" / "outputs" / "metrics"


def test_a_model_file_overwritten_in_place_is_found_and_a_full_check_finds_it_even_with_its_old_time(tmp_path):
    import hashlib

    from otclir.models import student

    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (folder / "config.json").write_text("{}")
    files = {name: {"sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                    "bytes": (folder / name).stat().st_size} for name in ("model.safetensors", "config.json")}
    (folder / student.BUILD_RECORD).write_text(json.dumps({"source_sha256": student.E5_CONTAINER_SHA256, "files": files}))
    assert student.verify_student(folder)
    path = folder / "model.safetensors"
    stat = path.stat()
    with open(path, "r+b") as handle:  # 64 KB overwritten, the size unchanged
        handle.seek(1000)
        handle.write(b"\0" * 65536)
    assert not student.verify_student(folder)  # its modification time changed: hashed again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert student.verify_student(folder)  # the cheap check trusts an untouched time ...
    assert not student.verify_student(folder, full=True)  # ... and `otclir setup`'s full check does not


@pytest.mark.slow
@pytest.mark.cost(25)
def test_notebook_05_takes_its_own_settings_over_the_stored_paper_results(tmp_outputs):
    from otclir import runner

    before = snapshot(PROJECT / "results" / "paper")
    runner.run_notebook("05", profile="paper", overrides={"n_resamples": 200, "measures": ["AP"]})
    metrics = json.loads((tmp_outputs / "metrics" / "05_map_significance.json").read_text())
    assert metrics["profile"] == "paper+custom" and set(metrics["families"]) == {  # the declared families' scope
        f"{task} {language} {scorer} AP" for task in ("crossref", "topical") for language in ("sw", "tl", "ny", "fa", "fr")
        for scorer in ("mean", "maxsim")}
    assert snapshot(PROJECT / "results" / "paper") == before


STOPPABLE = """
import sys, time
from otclir import cli
from otclir.experiments.results import ResultStore

def computes(args):  # stands in for a long in-process command (language-sweep, larger-budget)
    with ResultStore("quick", "03_faults").recomputing() as store:
        store.start({"v": 1})
        print("computing", flush=True)
        time.sleep(120)

cli._language_sweep = computes
sys.exit(cli.main(["language-sweep", "--profile", "quick"]))
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_to_an_in_process_command_unwinds_it_and_releases_its_lock(tmp_path, stop):
    """Started in the background, a command inherits SIGINT ignored, and SIGTERM would end it at once
    with its lock left behind: either signal must unwind it, keeping what it staged."""
    env = {**os.environ, "OTCLIR_RESULTS": str(tmp_path / "results")}
    ignore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731 (as a background job starts)
    run = subprocess.Popen([sys.executable, "-c", STOPPABLE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, preexec_fn=ignore_sigint)
    assert run.stdout.readline().strip() == "computing"
    lock = tmp_path / "results" / ".staging" / "quick" / "03_faults.lock"
    assert lock.is_file()
    run.send_signal(stop)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert f"stopped ({stop.name})" in err and "the same command resumes" in err
    assert not lock.exists()
    assert (tmp_path / "results" / ".staging" / "quick" / "03_faults" / "settings.json").is_file()
