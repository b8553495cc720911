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


# A two-column article (ACM, IEEE, ACL styles): \columnwidth and \textwidth in points
COLUMN_PT, PAGE_PT = 241.0, 505.0
TABCOLSEP_PT = 6.0
SIZES = (("", 1.0), (r"\small", 0.9), (r"\footnotesize", 0.8))  # sizes a table may shrink to, and their scale
# widths of Computer Modern Roman 10 pt glyphs (points); other characters count as an average lowercase letter
_GLYPHS = {**dict.fromkeys("0123456789", 5.0), **dict(zip("abcdefghijklmnopqrstuvwxyz",
           (5.0, 5.56, 4.44, 5.56, 4.44, 3.06, 5.0, 5.56, 2.78, 3.06, 5.28, 2.78, 8.33, 5.56, 5.0, 5.56, 5.28, 3.92,
            3.94, 3.89, 5.56, 5.28, 7.22, 5.28, 5.28, 4.44))),
           " ": 3.33, ".": 2.78, ",": 2.78, ":": 2.78, ";": 2.78, "[": 2.78, "]": 2.78, "(": 3.89, ")": 3.89,
           "+": 7.78, "=": 7.78, "-": 3.33, "*": 5.0, "/": 5.0, "@": 7.78, "%": 8.33, "_": 5.0, "'": 2.78, "|": 2.78}
_CAPITAL = 7.22
_NUMERIC = r"^[+-]?\d[\d.]*\*?( \[[^\]]+\]\*?)?$"  # numbers and differences with intervals: right-aligned
_MARKED = __import__("re").compile(r"^([^\s(]+) (\([^)]*\))$")
_INTERVAL = __import__("re").compile(r"^([+-]?\d[\d.]*\*?)\s(\[[^\]]+\]\*?)$")  # "+0.0068 [+0.0023, +0.0114]*"


def _text_width(text: str) -> float:
    """Estimated width in points of LaTeX cell text at 10 pt (commands stripped, braces kept out)."""
    import re

    plain = re.sub(r"\\multicolumn\{\d+\}\{[^}]*\}", "", text)
    plain = re.sub(r"\\(textbf|emph|textit)\{", "{", plain)
    plain = re.sub(r"\$\^\{([^}]*)\}\$", r"\1", plain).replace("$\\Delta$", "D")
    plain = re.sub(r"\\[a-zA-Z]+\*?(\[[^\]]*\])?", "", plain).replace("\\", "").replace("{", "").replace("}", "")
    bold = 1.1 if "\\textbf" in text else 1.0
    return bold * sum(_GLYPHS.get(c, _CAPITAL if c.isupper() else 5.0) for c in plain)


def _cell_width(cell: str) -> float:
    """The width of a cell, the widest line of a cell stacked on two lines (:func:`_stacked`)."""
    if cell.startswith(r"\begin{tabular}"):
        inner = cell[cell.index("@{}}") + 4:cell.rindex(r"\end{tabular}")]
        return max(_text_width(line) for line in inner.replace(r"\\{}", r"\\").split(r"\\"))
    return _text_width(cell)


def tabular_width(rows: list[list[str]]) -> float:
    """Estimated natural width in points (10 pt type) of a tabular of these cells: each column as
    wide as its widest cell, plus the column separation. Cells spanning columns are left out."""
    plain = [row for row in rows if not any(r"\multicolumn" in c for c in row)]
    columns = max(len(row) for row in plain)
    widest = [max(_cell_width(row[i]) for row in plain if i < len(row)) for i in range(columns)]
    return sum(widest) + 2 * TABCOLSEP_PT * columns


def latex_width(text: str) -> tuple[float, float]:
    """(estimated width of a saved LaTeX table's tabular in points, at its font size; the width
    its float allows: :data:`COLUMN_PT` for ``table``, :data:`PAGE_PT` for ``table*``)."""
    body = text[text.index(r"\toprule") + len(r"\toprule"):text.index(r"\bottomrule")]
    rows = [[c.strip() for c in line.strip().removesuffix(r"\\").split(" & ")]
            for line in body.replace(r"\midrule", "").splitlines() if line.strip()]
    scale = next((factor for size, factor in SIZES if size and size in text.split(r"\begin{tabular}")[0]), 1.0)
    return tabular_width(rows) * scale, PAGE_PT if r"\begin{table*}" in text else COLUMN_PT


def _stacked(cell: str) -> str:
    """A difference with its interval on two lines (a nested tabular: no package needed)."""
    marked = _MARKED.match(cell)
    if marked:  # a name and its note ("distill-ot@2000 (step 0)") on two lines
        return rf"\begin{{tabular}}[t]{{@{{}}l@{{}}}}{marked.group(1)}\\{{}}{marked.group(2)}\end{{tabular}}"
    match = _INTERVAL.match(cell)
    if match and match.group(2).endswith("*"):  # the mark of significance goes with the difference
        return rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{match.group(1)}*\\{{}}{match.group(2)[:-1]}\end{{tabular}}"
    # "\\{}" ends the line: a bare "\\" would read the interval's "[" as its optional space argument
    return rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{match.group(1)}\\{{}}{match.group(2)}\end{{tabular}}" if match else cell


def _stacked_header(cell: str) -> str:
    """A header of several words on two lines, split at the space nearest its middle."""
    words = cell.split(" ")
    if len(words) < 2 or cell.startswith("\\"):
        return cell
    split = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return rf"\begin{{tabular}}[b]{{@{{}}c@{{}}}}{' '.join(words[:split])}\\{{}}{' '.join(words[split:])}\end{{tabular}}"


def _booktabs(spec: str, header_lines: list[str], rows: list[list[str]], caption: str) -> str:
    """A booktabs table: header lines as written (LaTeX), body cells escaped by the caller. Its
    float and size fit a two-column page: ``table`` where it fits the column, else ``table*``,
    with differences and their intervals stacked on two lines and the type shrunk to
    ``\\footnotesize`` at most as needed; wider than the page is refused."""
    cells = [[c.strip() for c in line.strip().removesuffix(r"\\").split(" & ")] for line in header_lines]
    simple = not any(r"\multicolumn" in line for line in header_lines)
    stacked_cells = [[_stacked_header(c) for c in row] for row in cells] if simple else cells
    layouts = [(header_lines, cells, rows),
               ([" & ".join(row) + r" \\" for row in stacked_cells] if simple else header_lines, stacked_cells,
                [[_stacked(c) for c in row] for row in rows])]
    choice = None
    for size, scale in SIZES:  # the first that fits: a column before a page, one line before two, larger type
        for env, room in (("table", COLUMN_PT), ("table*", PAGE_PT)):
            for head, head_cells, body in layouts:
                if tabular_width(head_cells + body) * scale <= room:
                    choice = (head, body, size, env)
                    break
            if choice:
                break
        if choice:
            break
    if choice is None:
        raise OtclirError(f"a table of {len(rows[0]) if rows else 0} columns is about {tabular_width(cells + rows):.0f} "
                          f"pt wide, more than a page ({PAGE_PT:.0f} pt) even in \\footnotesize with intervals on "
                          "two lines: split it (fewer columns) or save it as CSV")
    header_lines, body, size, env = choice
    lines = [rf"\begin{{{env}}}[t]", r"\centering", *([size] if size else []), rf"\begin{{tabular}}{{{spec}}}",
             r"\toprule", *header_lines, r"\midrule"]
    lines += [" & ".join(row) + r" \\" if not row[0].startswith(r"\multicolumn") else row[0] + r" \\"
              for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_escape(caption)}}}", rf"\end{{{env}}}"]
    return "\n".join(lines) + "\n"


def _plain(header: list[str], rows: list[list[str]], caption: str) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header] + rows]
    return "\n".join(lines + (["", caption] if caption else []))


def render_frame(frame: pd.DataFrame, fmt: str = "table", caption: str = "", digits: int = 4,
                 groups: bool = False) -> str:
    """Any results frame: named index levels become the first columns (an unnamed range index is
    left out), numbers get ``digits`` decimals. With ``groups`` (LaTeX and text) the first index
    level heads groups of rows ("scorer: mean") instead of taking a column."""
    _check(fmt)
    plain = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    if fmt == "csv":
        return frame.to_csv(index=not plain, float_format=f"%.{digits}f")
    grouped = groups and frame.index.nlevels > 1
    flat = frame.reset_index(drop=plain)
    keys = list(flat.iloc[:, 0]) if grouped else [None] * len(flat)
    label = str(flat.columns[0])
    if grouped:
        flat = flat.iloc[:, 1:]
    header = [str(c) for c in flat.columns]
    rows = [[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row] for row in flat.itertuples(index=False)]
    starts = {i for i, key in enumerate(keys) if grouped and (i == 0 or key != keys[i - 1])}
    if fmt == "table":
        shown = [r for i, row in enumerate(rows) for r in ([[f"{label}: {keys[i]}"] + [""] * (len(row) - 1)]
                                                          if i in starts else []) + [row]]
        return _plain(header, shown, caption)
    spec = "".join("r" if pd.api.types.is_numeric_dtype(flat[c]) or flat[c].astype(str).str.match(_NUMERIC).all()
                   else "l" for c in flat.columns)
    body = [r for i, row in enumerate(rows)
            for r in ([[rf"\multicolumn{{{len(row)}}}{{l}}{{\emph{{{_escape(label)}: {_escape(keys[i])}}}}}"]]
                      if i in starts else []) + [[_escape(c) for c in row]]]
    return _booktabs(spec, [" & ".join(_escape(h) for h in header) + r" \\"], body, caption)


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

    power = attrs.get("power") and all((m, "mde") in table.columns for m in measures)
    if power:
        caption += (" Detectable: the smallest difference found with 80% power at the family's corrected level; "
                    "queries: how many would detect the observed difference.")

    def power_cells(row, m):
        if not power or pd.isna(row[(m, "diff")]):
            return ["", ""] if power else []
        needed = row[(m, "queries_needed")]
        return [f"{row[(m, 'mde')]:.{digits}f}", "inf" if needed == float("inf") else
                "--" if pd.isna(needed) else f"{int(needed)}"]

    if fmt == "latex":
        best = {m: table[(m, "mean")].max() for m in measures}
        rows = []
        for system, row in table.iterrows():
            cells = [_escape(system)]
            for m in measures:
                mean = f"{row[(m, 'mean')]:.{digits}f}"
                mean = rf"\textbf{{{mean}}}" if row[(m, "mean")] == best[m] else mean
                sig = {"+": r"$^{+}$", "-": r"$^{-}$"}.get(row[(m, "sig")], "")
                cells += [mean + sig, "--" if pd.isna(row[(m, "diff")]) else interval(row, m), *power_cells(row, m)]
            rows.append(cells)
        width = 4 if power else 2
        sub = r"mean & $\Delta$ [95\% CI]" + (" & detectable & queries" if power else "")
        header = ["System & " + " & ".join(rf"\multicolumn{{{width}}}{{c}}{{{_escape(m)}}}" for m in measures) + r" \\",
                  " & " + " & ".join(sub for _ in measures) + r" \\"]
        return _booktabs("l" + ("rr" + ("rr" if power else "")) * len(measures), header, rows, caption)
    header = ["system"] + [f"{m} {c}" for m in measures
                           for c in ("mean", "diff [95% CI]", "p_adj", *(("detectable", "queries") if power else ()))]
    rows = []
    for system, row in table.iterrows():
        cells = [system]
        for m in measures:
            if pd.isna(row[(m, "diff")]):
                cells += [f"{row[(m, 'mean')]:.{digits}f}", "(baseline)", "", *power_cells(row, m)]
            else:
                cells += [f"{row[(m, 'mean')]:.{digits}f}{row[(m, 'sig')]}", interval(row, m),
                          f"{row[(m, 'p_adjusted')]:.4f}", *power_cells(row, m)]
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
