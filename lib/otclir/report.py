"""Per-query measures of several runs over one qrels, and significance tables for papers
(plain text, LaTeX with booktabs, CSV). Used by ``otclir eval``/``otclir compare`` and notebook 05."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import trec
from .errors import OtclirError
from .evaluation import parse_measures, per_query
from .stats import compare_to_baseline

FORMATS = ("table", "latex", "csv")


def system_name(path: Path | str) -> str:
    return Path(path).name.removesuffix(".run").removesuffix(".txt")


def load_measures(qrels_path, run_paths, measures, allow_missing: bool = True) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per measure, a (queries x systems) table. A judged query a run misses scores 0 (as
    trec_eval -c) and is reported in the notes; with ``allow_missing=False`` it is an error instead
    (a comparison would count the missing queries as losses)."""
    parse_measures(measures)
    duplicated = sorted({m for m in measures if list(measures).count(m) > 1})
    if duplicated:
        raise OtclirError(f"measure(s) {', '.join(duplicated)} given twice; name each once")
    qrels = trec.read_qrels(qrels_path)
    if not qrels:
        raise OtclirError(f"{qrels_path} holds no judgments")
    tables: dict[str, dict[str, pd.Series]] = {m: {} for m in measures}
    notes = []
    run_paths = list(dict.fromkeys(Path(p).resolve() for p in run_paths))  # the same file named twice counts once
    names = [system_name(p) for p in run_paths]
    if len(set(names)) != len(names):
        raise OtclirError(f"two runs share a name: {sorted(n for n in names if names.count(n) > 1)}; rename one file")
    for path, name in zip(run_paths, names):
        run = trec.read_run(path)
        if not run:
            raise OtclirError(f"{path} is an empty run")
        foreign = sorted(set(run) - set(qrels))
        if foreign:
            raise OtclirError(f"{path} ranks {len(foreign)} queries that {qrels_path} does not judge "
                              f"(e.g. {', '.join(foreign[:3])}): runs and qrels must cover the same query set")
        table = per_query(qrels, run, measures)
        missing = table.attrs["missing_queries"]
        if missing and not allow_missing:
            raise OtclirError(f"{path} misses {len(missing)} of {len(table)} judged queries (e.g. {', '.join(missing[:3])}); "
                              "a paired comparison would count them as losses. Rank every judged query, or pass "
                              "--allow-missing to score them 0 (trec_eval -c)")
        if missing:
            notes.append(f"{name}: {len(missing)} of {len(table)} judged queries missing from the run, scored 0")
        for measure in measures:
            tables[measure][name] = table[str(parse_measures([measure])[0])]
    return {m: pd.DataFrame(cols) for m, cols in tables.items()}, notes


def significance(tables: dict[str, pd.DataFrame], baseline: str, test: str = "randomization",
                 correction: str = "holm", alpha: float = 0.05, n_permutations: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """One row per system; per measure its mean, the difference to the baseline with its 95%
    bootstrap interval, the corrected p-value and a marker (+ better, - worse, significant)."""
    if not 0 < alpha < 1:
        raise OtclirError(f"alpha is a significance level in (0, 1), got {alpha}")
    if n_permutations < 100:
        raise OtclirError(f"--permutations must be at least 100 (p-values are no finer than 1/(permutations + 1)), got {n_permutations}")
    frames = []
    for measure, table in tables.items():
        if len(table.columns) < 2:
            raise OtclirError("a comparison needs at least one run besides the baseline")
        if baseline not in table.columns:
            raise OtclirError(f"baseline '{baseline}' is not among the runs: {', '.join(table.columns)}")
        result = compare_to_baseline(table, baseline, test, correction, alpha, n_permutations, seed=seed)
        marker = np.where(result.significant & (result["diff"] > 0), "+",
                          np.where(result.significant & (result["diff"] < 0), "-", ""))
        part = pd.DataFrame({"mean": result["mean"], "diff": result["diff"], "diff_ci_low": result.diff_ci_low,
                             "diff_ci_high": result.diff_ci_high, "p_adjusted": result.p_adjusted, "sig": marker},
                            index=result.index)
        part.columns = pd.MultiIndex.from_product([[measure], part.columns])
        frames.append(part)
    out = pd.concat(frames, axis=1)
    out.attrs.update(baseline=baseline, test=test, correction=correction, alpha=alpha,
                     queries=len(next(iter(tables.values()))))
    return out


def render(table: pd.DataFrame, fmt: str = "table", digits: int = 4) -> str:
    if fmt not in FORMATS:
        raise OtclirError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
    if fmt == "csv":
        flat = table.copy()
        flat.columns = [f"{m} {c}" for m, c in flat.columns]
        return flat.to_csv(float_format=f"%.{digits}f")
    measures = list(dict.fromkeys(table.columns.get_level_values(0)))
    attrs = table.attrs
    caption = (f"{attrs.get('queries', '?')} queries; baseline {attrs.get('baseline')}; {attrs.get('test')} test, "
               f"{attrs.get('correction')} correction; + / - significantly better / worse at alpha {attrs.get('alpha')}; "
               "differences with 95% paired bootstrap intervals.")
    if fmt == "latex":
        return _latex(table, measures, caption, digits)
    header = ["system"] + [f"{m} {c}" for m in measures for c in ("mean", "diff [95% CI]", "p_adj")]
    rows = []
    for system, row in table.iterrows():
        cells = [system]
        for m in measures:
            if pd.isna(row[(m, "diff")]):
                cells += [f"{row[(m, 'mean')]:.{digits}f}", "(baseline)", ""]
            else:
                cells += [f"{row[(m, 'mean')]:.{digits}f}{row[(m, 'sig')]}",
                          f"{row[(m, 'diff')]:+.{digits}f} [{row[(m, 'diff_ci_low')]:+.{digits}f}, {row[(m, 'diff_ci_high')]:+.{digits}f}]",
                          f"{row[(m, 'p_adjusted')]:.4f}"]
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    return "\n".join(lines + ["", caption])


def _latex(table, measures, caption, digits) -> str:
    def esc(text):
        return str(text).replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")

    best = {m: table[(m, "mean")].max() for m in measures}
    spec = "l" + "rr" * len(measures)
    lines = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             "System & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{{esc(m)}}}" for m in measures) + r" \\",
             " & " + " & ".join(r"mean & $\Delta$ [95\% CI]" for _ in measures) + r" \\", r"\midrule"]
    for system, row in table.iterrows():
        cells = [esc(system)]
        for m in measures:
            mean = f"{row[(m, 'mean')]:.{digits}f}"
            mean = rf"\textbf{{{mean}}}" if row[(m, "mean")] == best[m] else mean
            sig = {"+": r"$^{+}$", "-": r"$^{-}$"}.get(row[(m, "sig")], "")
            diff = ("--" if pd.isna(row[(m, "diff")]) else
                    f"{row[(m, 'diff')]:+.{digits}f} [{row[(m, 'diff_ci_low')]:+.{digits}f}, {row[(m, 'diff_ci_high')]:+.{digits}f}]")
            cells += [mean + sig, diff]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{esc(caption)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


ZERO_SHOT = "student-zero-shot"


def _objective(system: str) -> tuple[str, str]:
    """(objective, budget) of a distilled system name ``distill-<objective>@<budget>``."""
    objective, _, budget = system.removeprefix("distill-").rpartition("@")
    return objective, budget


def distillation_family(per_query: pd.DataFrame) -> list[tuple[str, str]]:
    """The comparisons the distillation experiment's settings fix before it runs: every OT student
    (an objective with the transport term) against the zero-shot student, and against the best
    student without the transport term at the same budget (best by its mean here: the strongest
    rival). Upper bounds (ceiling, oracle) take no part."""
    students = [c for c in per_query.columns if c.startswith("distill-")]
    pairs = []
    for system in students:
        objective, budget = _objective(system)
        if "ot" not in objective.split("+"):
            continue
        if ZERO_SHOT in per_query.columns:
            pairs.append((system, ZERO_SHOT))
        rivals = [c for c in students if _objective(c)[1] == budget and "ot" not in _objective(c)[0].split("+")]
        if rivals:
            pairs.append((system, max(rivals, key=lambda c: (per_query[c].mean(), c))))
    return pairs


def render_pairs(table: pd.DataFrame, fmt: str = "table", digits: int = 4, marks: dict[str, str] | None = None) -> str:
    """A family of comparisons (:func:`otclir.stats.compare_pairs`) as text, LaTeX or CSV; ``marks``
    appends a note to a system's name (a student whose selected step is 0, say)."""
    if fmt not in FORMATS:
        raise OtclirError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
    marks = marks or {}
    shown = table.assign(treatment=[t + marks.get(t, "") for t in table.treatment],
                         baseline=[b + marks.get(b, "") for b in table.baseline])
    if fmt == "csv":
        return shown.to_csv(index=False, float_format=f"%.{digits}f")
    attrs = table.attrs
    caption = (f"{attrs.get('queries')} queries; {attrs.get('test')} test, {attrs.get('correction')} correction over "
               f"this family of {attrs.get('family_size')} comparisons; significant at alpha {attrs.get('alpha')} "
               f"after correction marked *; differences with 95% paired bootstrap intervals.")
    rows = []
    for _, r in shown.iterrows():
        rows.append([r.treatment, r.baseline, f"{r.treatment_mean:.{digits}f}", f"{r.baseline_mean:.{digits}f}",
                     f"{r['diff']:+.{digits}f} [{r.diff_ci_low:+.{digits}f}, {r.diff_ci_high:+.{digits}f}]",
                     f"{r.p_adjusted:.4f}" + ("*" if r.significant else "")])
    header = ["treatment", "baseline", "treatment mean", "baseline mean", "difference [95% CI]", "p (corrected)"]
    if fmt == "latex":
        def esc(text):
            return str(text).replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")

        lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{llrrlr}", r"\toprule",
                 " & ".join(header) + r" \\", r"\midrule"]
        lines += [" & ".join(esc(c) for c in row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{esc(caption)}}}", r"\end{table}"]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    return "\n".join(lines + ["", caption])
