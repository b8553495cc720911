"""The package layout is the data flow: a module imports only from its own stage or earlier ones."""
import ast
from pathlib import Path

import otclir

PACKAGE = Path(otclir.__file__).parent
STAGES = [
    {"paths", "errors", "checks", "settings"},
    {"data"},
    {"models"},
    {"transport"},
    {"retrieval"},
    {"training", "samplers", "losses"},
    {"evaluation"},
    {"experiments"},
    {"plots", "tables", "runner", "wall_times", "summary", "status", "cli", "api", "lab"},
]


def stage_of(room: str) -> int:
    for rank, rooms in enumerate(STAGES):
        if room in rooms:
            return rank
    raise AssertionError(f"'{room}' belongs to no stage; add it to STAGES and to docs/layout.md")


def imported_rooms(path: Path):
    """The top-level rooms of otclir a file imports (at module level or inside functions)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path.name}: relative import; write 'from otclir.<stage>...' so the stage shows")
        names = [node.module] if isinstance(node, ast.ImportFrom) else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = (name or "").split(".")
            if parts[0] != "otclir":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from otclir import x, y
                yield from ((node.lineno, a.name) for a in node.names if a.name != "__version__")


def room_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


# The one import against the flow, each with why: checks.code_unchanged is a guard (so a computation
# may call it without its key moving), and what it checks is the code key, which the experiments'
# bookkeeping computes; it imports it when called, never at import.
BACKWARD_ALLOWED = {("checks.py", "experiments")}


def test_every_module_has_a_stage_and_imports_nothing_from_a_later_one():
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE]
    assert len(modules) > 30
    backwards = []
    for path in modules:
        own = stage_of(room_of(path))
        for line, room in imported_rooms(path):
            if (str(path.relative_to(PACKAGE)), room) in BACKWARD_ALLOWED:
                continue
            if stage_of(room) > own:
                backwards.append(f"{path.relative_to(PACKAGE)}:{line} imports otclir.{room}")
    assert not backwards, "imports from a later stage:\n" + "\n".join(backwards)


def test_the_check_sees_a_backward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from otclir.training.trainer import train\n")
    assert [room for _, room in imported_rooms(bad)] == ["training"]
    assert stage_of("training") > stage_of("data")


# training.configs names each configuration's trainer (TrainConfig.trainer_class) and the trainers
# read their configurations: cutting it changes code every trained part's key covers, so it lands
# with the next recompute of those parts (a trainer table in training/trainer.py)
KNOWN_CYCLES = [{"otclir.training.configs", "otclir.training.distillation", "otclir.training.hybrid",
                 "otclir.training.loop", "otclir.training.trainer"}]


def _module_imports() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["otclir", *path.relative_to(PACKAGE).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("otclir"):
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                            for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in modules}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.add(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_beyond_the_known_one():
    cycles = _cycles(_module_imports())
    assert [c for c in cycles if c not in KNOWN_CYCLES] == [], "modules that import each other"
    assert _cycles({"a": {"b"}, "b": {"a", "c"}, "c": set()}) == [{"a", "b"}]
