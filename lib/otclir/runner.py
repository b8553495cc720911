"""Run the numbered notebooks headless with papermill, parameters from profiles.

Parameters come, later ones winning, from the notebook's own ``parameters`` cell (the quick
profile), the profile file ``profiles/<profile>.yaml`` (a section per notebook), a YAML file
(``-f``) and single values (``-p``). Names the notebook does not declare are rejected, since
papermill itself only warns about them.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from pathlib import Path

import yaml

from otclir.errors import OtclirError, UnknownParameterError
from otclir.paths import outputs_dir, project_root, relative_to_root
from otclir.settings import jsonable

NOTEBOOK_PATTERN = re.compile(r"^\d\d_.+\.ipynb$")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def profiles_dir() -> Path:
    return project_root() / "profiles"


def list_notebooks() -> list[Path]:
    return sorted(p for p in notebooks_dir().glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))


def notebook_path(name: str) -> Path:
    """A notebook by path (a file given by its path runs that file), file name, stem, number
    (``01``) or name without number."""
    given = Path(name)
    if given.suffix == ".ipynb" and (len(given.parts) > 1 or given.is_absolute()):
        if not given.is_file():
            raise OtclirError(f"no notebook file {name}")
        return given.resolve()
    candidates = list_notebooks()
    stem = given.name.removesuffix(".ipynb")
    for path in candidates:
        if stem in (path.stem, path.stem[:2], path.stem[3:]):
            return path
    if given.is_file():
        return given.resolve()
    known = ", ".join(p.stem for p in candidates)
    raise OtclirError(f"unknown notebook '{name}'; notebooks: {known}")


def settings_classes(path: Path) -> list:
    """The settings classes that check a numbered notebook's parameters (none for other notebooks):
    notebook 04's grid and, beside it, its declared hybrid question and larger budget."""
    from otclir.evaluation.hybrid_batch_ablations import QuestionPlan
    from otclir.evaluation.map_significance import SignificanceSettings
    from otclir.experiments.ablation import HybridParameters
    from otclir.experiments.distillation import ExperimentSettings
    from otclir.experiments.exploration import ExplorationSettings
    from otclir.experiments.language_sweep import LanguageSweep
    from otclir.experiments.larger_budget import LargerBudget
    from otclir.experiments.ot_alignment import AlignmentSettings
    from otclir.experiments.regime_grid import RegimeGridParameter

    classes = {"01": [ExplorationSettings], "02": [AlignmentSettings], "03": [ExperimentSettings],
               "04": [HybridParameters, QuestionPlan, LargerBudget, RegimeGridParameter], "05": [SignificanceSettings, LanguageSweep]}
    return classes.get(path.stem[:2], []) if path.parent == notebooks_dir() and NOTEBOOK_PATTERN.match(path.name) else []


RUN_PARAMETERS = ("profile", "recompute")  # read by the notebook itself, not by its settings class


def check_parameters(path: Path, params: dict) -> None:
    """Every value a run would give a notebook, checked before its kernel starts: the notebook's
    defaults with the run's parameters over them, through the notebook's settings class."""
    from otclir.settings import SettingError, flag

    if "recompute" in params:
        flag()("recompute", params["recompute"])
    if "profile" in params and (not isinstance(params["profile"], str) or "/" in params["profile"]):
        raise SettingError(f"profile must be a profile's name, got {params['profile']!r}")
    values = {**declared_defaults(str(path)), **params}
    for cls in settings_classes(path):
        cls.from_dict({k: v for k, v in values.items() if k not in RUN_PARAMETERS and k in cls.names()})
    check_resources(values)


PATH_PARAMETERS = ("bitext",)  # parameters that name a file the kernel reads
LAYER_PARAMETERS = ("layer", "layers", "plan_layer")
COLLECTION_PARAMETERS = ("collection", "pairs_collection")


def check_resources(values: dict) -> None:
    """What the settings classes cannot know, checked before a kernel starts: files exist, layers
    exist in the model, ir_datasets ids are registered."""
    from otclir.errors import OtclirError

    for name in PATH_PARAMETERS:
        given = values.get(name)
        if isinstance(given, str) and not Path(given).is_file():
            raise OtclirError(f"{name}: no file {given!r} (relative paths are read from the folder the command runs "
                              "in); give an existing file")
    layers = [v for name in LAYER_PARAMETERS for v in ([values.get(name)] if not isinstance(values.get(name), list)
                                                        else values[name]) if isinstance(v, int)]
    if layers:
        count = model_layers(values.get("model") or "e5-small-student")
        if count is not None and max(layers) > count:
            raise OtclirError(f"layer {max(layers)} does not exist: the model has {count} layers (hidden states 0 to "
                              f"{count}, 0 the embeddings); choose one of them")
    for name in COLLECTION_PARAMETERS:
        template = values.get(name)
        if isinstance(template, str):
            from otclir.data.external import check_collection_id

            for language in values.get("languages") or [None]:
                check_collection_id(template, language)


def model_layers(model: str) -> int | None:
    """The number of transformer layers of a model the registry resolves (None: not known)."""
    import json

    from otclir.models.registry import resolve

    try:
        config = Path(resolve(model).path) / "config.json"
        return int(json.loads(config.read_text(encoding="utf-8"))["num_hidden_layers"])
    except Exception:  # noqa: BLE001 - a model the check cannot read is checked where it loads
        return None


def resolved_paths(params: dict) -> dict:
    """Parameters that name files, made absolute from the folder the command runs in (the kernel
    runs in notebooks/, where a relative path would mean another file)."""
    return {k: str(Path(v).resolve()) if k in PATH_PARAMETERS and isinstance(v, str) else v
            for k, v in params.items()}


def known_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load_profile(profile: str) -> dict[str, dict]:
    """A profile file: a section (a mapping of parameters) per notebook it changes."""
    path = profiles_dir() / f"{profile}.yaml"
    if not path.is_file():
        raise OtclirError(f"unknown profile '{profile}'; profiles: {', '.join(known_profiles())}")
    sections = read_yaml(path) or {}
    known = [p.stem for p in list_notebooks()]
    for name, section in sections.items():
        if name not in known:
            raise OtclirError(f"{path.name}: unknown section '{name}'; a section is named after a notebook: {', '.join(known)}")
        if section is not None and not isinstance(section, dict):
            raise OtclirError(f"{path.name}: section '{name}' must be a mapping of parameter: value, got "
                              f"{type(section).__name__}")
    return sections


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice (YAML keeps the last silently:
    a profile that sets ``steps`` twice would run with whichever came last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice; keep one",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: os.PathLike | str) -> dict:
    path = Path(path)
    if path.is_dir():
        raise OtclirError(f"parameters file {path} is a folder; give a YAML file of name: value lines")
    if path.exists() and not path.is_file():
        raise OtclirError(f"parameters file {path} is not a regular file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except FileNotFoundError:
        raise OtclirError(f"parameters file not found: {path}") from None
    except (PermissionError, UnicodeDecodeError) as err:
        raise OtclirError(f"parameters file {path} cannot be read ({type(err).__name__}); give a readable UTF-8 "
                          "YAML file") from None
    except yaml.YAMLError as err:
        raise OtclirError(f"parameters file {path} is not valid YAML: {err}") from None
    if data is not None and not isinstance(data, dict):
        raise OtclirError(f"parameters file {path} must hold a mapping of name: value")
    return data or {}


def parse_value(text: str):
    """A ``-p`` value read as YAML: numbers, booleans, null and lists come out typed."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def declared_parameters(path: Path) -> dict:
    import papermill

    return papermill.inspect_notebook(str(path))


def declared_defaults(name: str) -> dict:
    """A notebook's parameter defaults (its quick profile) as values; names whose default is not a
    Python literal are left out."""
    import ast

    values = {}
    for key, info in declared_parameters(notebook_path(name)).items():
        try:
            values[key] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            continue
    return values


def resolve_parameters(path: Path, profile: str = "quick", params_file: str | None = None,
                       overrides: dict | None = None) -> dict:
    declared = declared_parameters(path)
    if not declared:
        raise OtclirError(f"{path.name} has no cell tagged 'parameters'")
    params: dict = {}
    if "profile" in declared:  # the notebook files its results and figures under the profile's name
        params["profile"] = profile
    params.update(load_profile(profile).get(path.stem) or {})
    if params_file:
        params.update(read_yaml(params_file))
    params.update(overrides or {})
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise UnknownParameterError(
            f"{path.name} has no parameter(s) {', '.join(unknown)}; its parameters are: {', '.join(sorted(declared))}"
        )
    check_parameters(path, params)
    return resolved_paths(params)


def _tidy_metadata(nb_path: Path) -> None:
    """Papermill records absolute paths; store them relative to the project root."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key):
            meta[key] = relative_to_root(meta[key])
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def check_storable(profile: str, params_file: str | None = None, overrides: dict | None = None) -> None:
    """Only a reporting run of the paper profile as it is may replace a stored notebook (nbval
    re-executes the stored copy, so it must read the stored results, not recompute them)."""
    from otclir.paths import PAPER_PROFILE

    extra = sorted(overrides or {})
    if profile != PAPER_PROFILE or params_file or extra:
        raise OtclirError(f"--store keeps the stored notebooks on the '{PAPER_PROFILE}' profile as it is; this run "
                          f"has profile '{profile}'" + (f" and overrides ({', '.join(extra) or params_file})" if params_file or extra else ""))


CUSTOM = "+custom"  # suffix of the profile name of a run with overrides: its results and figures stay apart
RUN_LABEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def run_name(profile: str, params_file: str | None = None, overrides: dict | None = None,
             name: str | None = None) -> str:
    """Where a run files its results and figures: the profile's name, or ``<profile>+custom`` when
    a parameters file or overrides (other than ``recompute``) change it, so a customised run
    never replaces a profile's stored results or the paper's figures; ``name`` files it under
    ``<profile>+<name>`` instead, so customised runs kept side by side do not replace each other
    (the notebooks that read another's results read those of the same run name)."""
    custom = params_file or set(overrides or {}) - {"recompute"}
    if name is not None:
        if not RUN_LABEL.fullmatch(name):
            raise OtclirError(f"a run name is up to 40 lower-case letters, digits, '-' or '_', got {name!r}")
        if not custom:
            raise OtclirError(f"--name {name} names a customised run; this run has no -p or -f: it is profile "
                              f"'{profile}' itself")
        return f"{profile}+{name}"
    return profile + CUSTOM if custom else profile


# The kernel's own log (its connection warnings) stays off the terminal; cell output and errors still show.
KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"


def run_notebook(name: str, profile: str = "quick", params_file: str | None = None,
                 overrides: dict | None = None, output: Path | None = None, log_output: bool = False,
                 progress: bool = False, run_label: str | None = None) -> Path:
    """Execute one notebook; returns the executed copy (under outputs/notebooks/<run name>/).

    A failing cell raises :class:`NotebookFailed` naming the cell, its error and the executed copy
    up to that cell (``<notebook>.failed.ipynb``; the last successful copy is kept). ``progress``
    shows a bar of executed cells on the terminal; ``run_label`` files a customised run under
    ``<profile>+<run_label>`` (:func:`run_name`).
    """
    import papermill

    from otclir.experiments.locks import FolderLock
    from otclir.paths import resolve_environment

    resolve_environment()  # the kernel runs in notebooks/: relative folders must not change meaning there
    path = notebook_path(name)
    if Path(profile).name != profile or profile.startswith("."):
        raise OtclirError(f"a profile is a name from profiles/ ({', '.join(known_profiles())}), not a path: {profile!r}")
    params = resolve_parameters(path, profile, params_file, overrides)
    named = run_name(profile, params_file, overrides, run_label)
    if "profile" in params and named != profile:
        params["profile"] = named
    output = Path(output) if output else outputs_dir("notebooks", named) / path.name
    running = output.with_name(output.stem + ".running.ipynb")
    lock = FolderLock(output.with_name(output.stem + ".lock"), output)
    lock.acquire()  # a second run of this notebook into the same folder is refused while this one lives
    try:
        with _stops_reach_the_kernel():
            papermill.execute_notebook(
                str(path), str(running), parameters=params, cwd=str(path.parent), kernel_name="python3",
                progress_bar=progress, log_output=log_output, report_mode=False,
                extra_arguments=[KERNEL_QUIET],
            )
    except papermill.PapermillExecutionError as err:
        failed = output.with_name(output.stem + ".failed.ipynb")
        if running.is_file():
            _tidy_metadata(running)
            os.replace(running, failed)
        raise NotebookFailed(f"{path.name} failed in cell In [{err.exec_count}] ({err.ename}: {err.evalue}); the "
                             f"executed copy up to that cell is {relative_to_root(failed)}") from err
    finally:
        lock.release()
    _tidy_metadata(running)
    os.replace(running, output)
    return output


@contextlib.contextmanager
def _stops_reach_the_kernel():
    """The kernel runs in a session of its own, so a Ctrl-C at the terminal (or a scheduler's
    SIGTERM) reaches only this process, which would wait on a kernel that computes on. While a
    notebook runs, either signal interrupts the kernel instead: the running cell stops, what it
    computed stays staged and the previous results whole, and the run fails naming the cell."""
    def interrupt(signum, frame):
        for child in _child_processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGINT)

    with stop_signals_call(interrupt):
        yield


@contextlib.contextmanager
def stop_signals_call(handler):
    """While the body runs, SIGINT and SIGTERM call ``handler(signum, frame)``; the previous handlers
    come back after it. Outside the main thread, where Python cannot set handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _child_processes(parent: int | None = None) -> list[int]:
    """Processes whose parent is ``parent`` (this one by default; Linux /proc, elsewhere none are found)."""
    me, found = parent or os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == me:
                found.append(int(entry.name))
    return found


class NotebookFailed(OtclirError):
    """A cell of a notebook run raised; the message names the cell, the error and the executed copy."""


def save_metrics(notebook: str, metrics: dict) -> Path:
    """A notebook's small metrics JSON, read by tests and later notebooks."""
    path = outputs_dir("metrics") / f"{notebook}.json"
    path.write_text(json.dumps(metrics, indent=1, sort_keys=True, default=jsonable) + "\n")
    return path


def load_metrics(notebook: str) -> dict:
    path = outputs_dir("metrics") / f"{notebook}.json"
    if not path.is_file():
        raise OtclirError(f"no metrics for {notebook} at {relative_to_root(path)}; run `otclir run {notebook}` first")
    return json.loads(path.read_text(encoding="utf-8"))


def store_reference(executed: Path) -> Path:
    """Copy a notebook executed with the paper profile (and nothing else) over the committed one,
    nbval's reference, without papermill's timings so an unchanged rerun leaves git clean."""
    nb = json.loads(Path(executed).read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("papermill", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    target = notebooks_dir() / Path(executed).name
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def declared_larger_budget(profile: str):
    """Notebook 04's grid parameters and larger budget as ``profile`` resolves them (the notebook's
    defaults with the profile over them); an error names the fix where the profile declares none."""
    from otclir.experiments.ablation import HybridParameters
    from otclir.experiments.larger_budget import LargerBudget

    values = {**declared_defaults("04"), **resolve_parameters(notebook_path("04"), profile)}
    larger = LargerBudget.from_dict({"larger_budget": values.get("larger_budget")}).larger_budget
    if larger is None:
        raise OtclirError(f"profile '{profile}' declares no larger_budget for notebook 04; add one (grid_name, steps, "
                          "eval_every, checkpoint_every, train_pairs) to its 04_hybrid_batch_ablations section")
    return HybridParameters.from_parameters(values), larger


def declared_regime_probe(profile: str):
    """Notebook 04's regime probe as ``profile`` resolves it, its training settings the grid's
    (without the probe's axes) under its own; an error names the fix where the profile declares none."""
    from otclir.experiments.hybrid_regime import AXES, RegimeProbe

    values = {**declared_defaults("04"), **resolve_parameters(notebook_path("04"), profile)}
    probe = values.get("regime_probe")
    if probe is None:
        raise OtclirError(f"profile '{profile}' declares no regime_probe for notebook 04; add one (frozen_layers, lrs, "
                          "alphas, seed, dev_seed, margin) to its 04_hybrid_batch_ablations section")
    if not isinstance(probe, dict):
        raise OtclirError(f"regime_probe is a mapping of frozen_layers, lrs, alphas, seed, dev_seed and margin, got "
                          f"{probe!r}")
    grid_training = {k: v for k, v in (values.get("training") or {}).items() if k not in (*AXES, "seed", "dev_seed")}
    return RegimeProbe.from_dict({**probe, "training": {**grid_training, **(probe.get("training") or {})}})


def declared_regime_grid(profile: str):
    """Notebook 04's grid parameters and regime grid as ``profile`` resolves them; an error names the
    fix where the profile declares none."""
    from otclir.experiments.ablation import HybridParameters
    from otclir.experiments.regime_grid import RegimeGridParameter

    values = {**declared_defaults("04"), **resolve_parameters(notebook_path("04"), profile)}
    declared = RegimeGridParameter.from_dict({"regime_grid": values.get("regime_grid")}).regime_grid
    if declared is None:
        raise OtclirError(f"profile '{profile}' declares no regime_grid for notebook 04; add one (grid_name, alphas, "
                          "training with the probe's frozen_layers and lr, evaluation) to its 04_hybrid_batch_ablations "
                          "section")
    return HybridParameters.from_parameters(values), declared


def declared_students(profile: str, parameter: str = "students"):
    """A plan of notebook 03's students as ``profile`` declares it (``students``: the self-teacher's;
    ``teacher_students``: a cross-model teacher's); an error names the fix where it declares none."""
    from otclir.experiments.student_plan import StudentPlan

    values = {**declared_defaults("03"), **resolve_parameters(notebook_path("03"), profile)}
    if values.get(parameter) is None:
        raise OtclirError(f"profile '{profile}' declares no {parameter} for notebook 03; add a plan (languages, "
                          "objectives, budgets, epochs, seeds, lrs, checks, training, evaluation) to its "
                          "03_distillation_training section")
    return StudentPlan.from_dict(values[parameter])


def declared_settings(profile: str) -> dict[str, dict]:
    """The settings each store of ``profile`` is computed with, as the profile resolves them now
    (what its notebook or command records in the store's ``settings.json``), by store name; a
    declared part the profile leaves out (a larger budget, a regime probe or grid) is absent, and
    so is notebook 05's sweep, whose record holds what notebook 03 stored."""
    from otclir.experiments.ablation import HybridParameters
    from otclir.experiments.alignment_results import stored_settings
    from otclir.experiments.distillation import ExperimentSettings
    from otclir.experiments.larger_budget import LargerBudget, larger_grid
    from otclir.experiments.ot_alignment import AlignmentSettings
    from otclir.experiments.regime_grid import RegimeGridParameter, regime_grid

    def values(notebook):
        return {**declared_defaults(notebook), **resolve_parameters(notebook_path(notebook), profile)}

    out = {"02_ot_alignment": stored_settings(AlignmentSettings.from_parameters(values("02"))),
           "03_distillation_training": ExperimentSettings.from_parameters(values("03")).to_record()}
    hybrid = values("04")
    parameters = HybridParameters.from_parameters(hybrid)
    out["04_hybrid_batch_ablations"] = parameters.grid().to_record()
    larger = LargerBudget.from_dict({"larger_budget": hybrid.get("larger_budget")}).larger_budget
    if larger is not None:
        out["04_hybrid_batch_ablations.larger_budget"] = larger_grid(parameters, larger).to_record()
    if hybrid.get("regime_probe") is not None:
        out["04_hybrid_batch_ablations.regime"] = declared_regime_probe(profile).to_record()
    regime = RegimeGridParameter.from_dict({"regime_grid": hybrid.get("regime_grid")}).regime_grid
    if regime is not None:
        out["04_hybrid_batch_ablations.regime_grid"] = regime_grid(parameters, regime).to_record()
    return out


def declared_language_sweep(profile: str):
    """Notebook 05's language sweep as ``profile`` resolves it; an error names the fix where the
    profile declares none."""
    from otclir.experiments.language_sweep import LanguageSweep, SweepSettings

    values = {**declared_defaults("05"), **resolve_parameters(notebook_path("05"), profile)}
    sweep = LanguageSweep.from_dict({"language_sweep": values.get("language_sweep")}).language_sweep
    if sweep is None:
        raise OtclirError(f"profile '{profile}' declares no language_sweep for notebook 05; add one (languages, budget, "
                          "objectives, seeds, task, scorer) to its 05_map_significance section")
    return SweepSettings.from_dict(sweep)
