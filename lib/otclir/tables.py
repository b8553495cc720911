"""Tables for papers, one way: plain text, LaTeX (booktabs) or CSV from a results frame, a
significance table (:func:`otclir.evaluation.compare.significance`) or a family of paired
comparisons (:func:`otclir.evaluation.stats.compare_pairs`), saved beside the figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from otclir.errors import OtclirError
from otclir.paths import figures_dir, relative_to_root

FORMATS = ("table", "latex", "csv")
SUFFIXES = {"latex": ".tex", "csv": ".csv"}


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise OtclirError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")


def _escape(text) -> str:
    return str(text).replace("_", r"\_").replace("&", r"\&").replace("%", r"\%")


def _booktabs(spec: str, header_lines: list[str], rows: list[list[str]], caption: str) -> str:
    """A booktabs table: header lines as written (LaTeX), body cells escaped by the caller."""
    lines = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *header_lines, r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_escape(caption)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _plain(header: list[str], rows: list[list[str]], caption: str) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    return "\n".join(lines + (["", caption] if caption else []))


def render_frame(frame: pd.DataFrame, fmt: str = "table", caption: str = "", digits: int = 4) -> str:
    """Any results frame: named index levels become the first columns (an unnamed range index is
    left out), numbers get ``digits`` decimals."""
    _check(fmt)
    plain = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    if fmt == "csv":
        return frame.to_csv(index=not plain, float_format=f"%.{digits}f")
    flat = frame.reset_index(drop=plain)
    header = [str(c) for c in flat.columns]
    rows = [[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row] for row in flat.itertuples(index=False)]
    if fmt == "table":
        return _plain(header, rows, caption)
    spec = "".join("r" if pd.api.types.is_numeric_dtype(flat[c]) else "l" for c in flat.columns)
    return _booktabs(spec, [" & ".join(_escape(h) for h in header) + r" \\"],
                     [[_escape(c) for c in row] for row in rows], caption)


def render(table: pd.DataFrame, fmt: str = "table", digits: int = 4) -> str:
    """A significance table: per system and measure the mean, the difference to the baseline with
    its interval and the corrected p-value; in LaTeX the best mean bold and significance marked."""
    _check(fmt)
    if fmt == "csv":
        flat = table.copy()
        flat.columns = [f"{m} {c}" for m, c in flat.columns]
        return flat.to_csv(float_format=f"%.{digits}f")
    measures = list(dict.fromkeys(table.columns.get_level_values(0)))
    attrs = table.attrs
    caption = (f"{attrs.get('queries', '?')} queries; baseline {attrs.get('baseline')}; {attrs.get('test')} test, "
               f"{attrs.get('correction')} correction; + / - significantly better / worse at alpha {attrs.get('alpha')}; "
               "differences with 95% paired bootstrap intervals.")

    def interval(row, m):
        return (f"{row[(m, 'diff')]:+.{digits}f} [{row[(m, 'diff_ci_low')]:+.{digits}f}, "
                f"{row[(m, 'diff_ci_high')]:+.{digits}f}]")

    if fmt == "latex":
        best = {m: table[(m, "mean")].max() for m in measures}
        rows = []
        for system, row in table.iterrows():
            cells = [_escape(system)]
            for m in measures:
                mean = f"{row[(m, 'mean')]:.{digits}f}"
                mean = rf"\textbf{{{mean}}}" if row[(m, "mean")] == best[m] else mean
                sig = {"+": r"$^{+}$", "-": r"$^{-}$"}.get(row[(m, "sig")], "")
                cells += [mean + sig, "--" if pd.isna(row[(m, "diff")]) else interval(row, m)]
            rows.append(cells)
        header = ["System & " + " & ".join(rf"\multicolumn{{2}}{{c}}{{{_escape(m)}}}" for m in measures) + r" \\",
                  " & " + " & ".join(r"mean & $\Delta$ [95\% CI]" for _ in measures) + r" \\"]
        return _booktabs("l" + "rr" * len(measures), header, rows, caption)
    header = ["system"] + [f"{m} {c}" for m in measures for c in ("mean", "diff [95% CI]", "p_adj")]
    rows = []
    for system, row in table.iterrows():
        cells = [system]
        for m in measures:
            if pd.isna(row[(m, "diff")]):
                cells += [f"{row[(m, 'mean')]:.{digits}f}", "(baseline)", ""]
            else:
                cells += [f"{row[(m, 'mean')]:.{digits}f}{row[(m, 'sig')]}", interval(row, m), f"{row[(m, 'p_adjusted')]:.4f}"]
        rows.append(cells)
    return _plain(header, rows, caption)


def render_pairs(table: pd.DataFrame, fmt: str = "table", digits: int = 4, marks: dict[str, str] | None = None) -> str:
    """A family of comparisons as text, LaTeX or CSV; ``marks`` appends a note to a system's name
    (a student whose selected step is 0, say)."""
    _check(fmt)
    marks = marks or {}
    shown = table.assign(treatment=[t + marks.get(t, "") for t in table.treatment],
                         baseline=[b + marks.get(b, "") for b in table.baseline])
    if fmt == "csv":
        return shown.to_csv(index=False, float_format=f"%.{digits}f")
    attrs = table.attrs
    caption = (f"{attrs.get('queries')} queries; {attrs.get('test')} test, {attrs.get('correction')} correction over "
               f"this family of {attrs.get('family_size')} comparisons; significant at alpha {attrs.get('alpha')} "
               f"after correction marked *; differences with 95% paired bootstrap intervals.")
    with_seeds = "mde" in shown.columns
    rows = [[r.treatment, r.baseline, f"{r.treatment_mean:.{digits}f}", f"{r.baseline_mean:.{digits}f}",
             f"{r['diff']:+.{digits}f} [{r.diff_ci_low:+.{digits}f}, {r.diff_ci_high:+.{digits}f}]",
             p_text(r.p_adjusted) + ("*" if r.significant else "")]
            + ([f"{r.seeds_agree}/{r.seeds}", f"{r.mde:.{digits}f}"] if with_seeds else []) for _, r in shown.iterrows()]
    header = ["treatment", "baseline", "treatment mean", "baseline mean", "difference [95% CI]", "p (corrected)"] \
        + (["seeds agreeing", "detectable"] if with_seeds else [])
    if with_seeds:
        caption = (f"{attrs.get('queries')} queries; two-level bootstrap over training seeds and queries, "
                   f"{attrs.get('correction')} correction over this family of {attrs.get('family_size')} comparisons; "
                   f"significant at alpha {attrs.get('alpha')} after correction marked *; 'detectable': the smallest "
                   f"difference found with 80% power at the family's corrected level {attrs.get('mde_level', 0):.4f}.")
    if fmt == "latex":
        return _booktabs("llrrlr" + ("rr" if with_seeds else ""), [" & ".join(_escape(h) for h in header) + r" \\"],
                         [[_escape(c) for c in row] for row in rows], caption)
    return _plain(header, rows, caption)


def p_text(value: float) -> str:
    """A p-value as a table shows it: four decimals, ``< 0.001`` below that."""
    return "< 0.001" if value < 0.001 else f"{value:.4f}"


def save(stem: str, profile: str, texts: dict[str, str]) -> list[Path]:
    """Rendered tables (format -> text, ``latex`` and/or ``csv``) as ``<stem>.tex``/``.csv`` in the
    profile's figures folder; returns their paths relative to the project root."""
    unknown = sorted(set(texts) - set(SUFFIXES))
    if unknown:
        raise OtclirError(f"cannot save format(s) {', '.join(unknown)}; saved formats: {', '.join(SUFFIXES)}")
    folder = figures_dir(profile)
    paths = []
    for fmt, text in texts.items():
        path = folder / f"{stem}{SUFFIXES[fmt]}"
        path.write_text(text)
        paths.append(relative_to_root(path))
    return paths
