"""The code a computation runs, function by function: what a stored result's key covers.

A stored result is current while the code that computed it is unchanged. "The code" is not every
module its entry imports (an import graph reaches far more than a computation runs: a significance
test is imported beside a trainer, never called by it) but the *units* its entry can reach:

- a function or method (``otclir.training.loop:train``, ``otclir.models.student:Student.forward``),
- a class body without its methods (bases, decorators, fields: ``otclir.training.configs:TrainConfig``),
- a module's top-level statements without its functions and classes (constants, tables,
  registries: ``otclir.transport.objectives:<module>``).

:func:`reach` follows references statically from the entry units. A name is resolved through the
module's own definitions and its ``otclir`` imports (re-exports followed); ``module.name`` through
that module; ``self.name`` through the class, its bases and its subclasses; any other
``object.name`` conservatively to every method of that name in the library. Reaching a unit reaches
its module's top level; reaching a class reaches its bases and its implicitly called methods
(dunders, ``forward``). A registry at module level reaches every entry it names. So the reach is a
superset of what runs; ``tests/test_code_reach.py`` runs small parts under a call trace and fails
when a function that ran is missing from the reach.

Each unit is digested as its syntax tree without docstrings (a comment, a docstring or a moved
line changes nothing; any statement does). One kind of statement is left out: a call of a guard of
:mod:`otclir.checks` whose value is unused and whose arguments have no effects (and the import of
that module). A guard only refuses input, so it can stop a computation but never change its
value: adding a check to a function whose results are stored keeps them current. The limit this
accepts: a result stored before a check was added is not re-checked against it. A data file of ``data/`` belongs to the reach when a
reached unit names it (``"splits.json"``), so a changed split stales what reads it.
"""
from __future__ import annotations

import ast
import copy
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PACKAGE = "otclir"
MODULE_UNIT = "<module>"
# The key's and the stores' own machinery: it names, writes and checks results and computes none
# (else every change to how keys are made or results are written would stale what they hold).
BOOKKEEPING = {"otclir.experiments.code_reach", "otclir.experiments.provenance", "otclir.experiments.results",
               "otclir.experiments.locks"}
# Guards only refuse input (they return nothing and change nothing): a statement that only calls one
# is left out of a unit's digest, so a check added to a function keeps what it computed current.
GUARDS = "otclir.checks"
# calls a guard's arguments may make and stay a guard statement (no effects)
PURE_CALLS = frozenset({"len", "isinstance", "type", "getattr", "hasattr", "tuple", "list", "set", "sorted"})
UNKEYED = BOOKKEEPING | {GUARDS}
IMPLICIT_METHODS = {"forward", "backward"}  # called by torch through __call__ / autograd, never by name


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    namespace: dict[str, str] = field(default_factory=dict)  # name -> "module" or "module:qualname"
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (module, attribute)


@dataclass
class _Unit:
    name: str  # "module:qualname"
    module: str
    node: ast.AST  # what is digested and scanned
    class_name: str | None = None  # the class a method or class body belongs to


def _package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _strip_docstrings(node: ast.AST) -> ast.AST:
    node = copy.deepcopy(node)
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if isinstance(inner, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            inner.body = body[1:] or [ast.Pass()]
    return node


def _without(node, kinds) -> ast.AST:
    """A copy of a module or class whose body lacks the statements of the given kinds."""
    shallow = copy.copy(node)
    shallow.body = [statement for statement in node.body if not isinstance(statement, kinds)] or [ast.Pass()]
    return shallow


DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class CodeIndex:
    """Every unit of the library under ``root`` (default: the installed ``otclir``), with what each
    references. Built from the source files alone: nothing is imported."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else _package_root()
        self.modules: dict[str, _Module] = {}
        self.units: dict[str, _Unit] = {}
        self.methods: dict[str, list[str]] = {}  # method name -> units
        self.properties: dict[str, list[str]] = {}  # property name -> units
        self.class_methods: dict[str, list[str]] = {}  # class unit -> its method units
        self.bases: dict[str, list[str]] = {}  # class unit -> base class units
        self.subclasses: dict[str, list[str]] = {}
        for path in sorted(self.root.rglob("*.py")):
            name = _module_name(path, self.root)
            self.modules[name] = _Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
        for module in self.modules.values():
            self._index(module)
        for module in self.modules.values():
            self._index_bases(module)
        self._references: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ indexing
    def _index(self, module: _Module) -> None:
        tree = module.tree
        top = _without(tree, DEFS)
        top.body = [s for s in top.body if not _is_main_block(s)] or [ast.Pass()]  # runs only as a script
        self.units[f"{module.name}:{MODULE_UNIT}"] = _Unit(f"{module.name}:{MODULE_UNIT}", module.name, top)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] == PACKAGE:
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        if alias.asname:
                            module.imports[alias.asname] = (alias.name, None)
                        else:
                            module.imports[PACKAGE] = (PACKAGE, None)
        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._add(module, statement.name, statement)
            elif isinstance(statement, ast.ClassDef):
                self._add(module, statement.name, _without(statement, (ast.FunctionDef, ast.AsyncFunctionDef)),
                          class_name=statement.name)
                for inner in statement.body:
                    if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        unit = self._add(module, f"{statement.name}.{inner.name}", inner, class_name=statement.name)
                        self.methods.setdefault(inner.name, []).append(unit)
                        if any(_decorator_name(d) in PROPERTIES for d in inner.decorator_list):
                            self.properties.setdefault(inner.name, []).append(unit)
                        self.class_methods.setdefault(f"{module.name}:{statement.name}", []).append(unit)
            else:
                for target in _assigned_names(statement):
                    module.namespace.setdefault(target, f"{module.name}:{MODULE_UNIT}")

    def _add(self, module: _Module, qualname: str, node: ast.AST, class_name: str | None = None) -> str:
        name = f"{module.name}:{qualname}"
        self.units[name] = _Unit(name, module.name, node, class_name)
        if "." not in qualname:
            module.namespace[qualname] = name
        return name

    def _index_bases(self, module: _Module) -> None:
        for statement in module.tree.body:
            if isinstance(statement, ast.ClassDef):
                unit = f"{module.name}:{statement.name}"
                for base in statement.bases:
                    for target in self._resolve_expression(module, base):
                        if target in self.units and self.units[target].class_name:
                            self.bases.setdefault(unit, []).append(target)
                            self.subclasses.setdefault(target, []).append(unit)

    # ------------------------------------------------------------------ resolving
    def _resolve_name(self, module: _Module, name: str, depth: int = 0) -> str | None:
        """A unit or a module (its name without ``:``) that ``name`` means in ``module``."""
        if depth > 20:
            return None
        if name in module.namespace:
            return module.namespace[name]
        if name in module.imports:
            source, attribute = module.imports[name]
            if attribute is None:
                return source if source in self.modules else None
            if f"{source}.{attribute}" in self.modules:
                return f"{source}.{attribute}"
            if source in self.modules:
                return self._resolve_name(self.modules[source], attribute, depth + 1)
        return None

    def _resolve_expression(self, module: _Module, node: ast.AST) -> list[str]:
        if isinstance(node, ast.Name):
            found = self._resolve_name(module, node.id)
            return [found] if found else []
        if isinstance(node, ast.Attribute):
            owners = self._resolve_expression(module, node.value)
            found = []
            for owner in owners:
                if owner in self.modules:
                    if f"{owner}.{node.attr}" in self.modules:
                        found.append(f"{owner}.{node.attr}")
                    else:
                        target = self._resolve_name(self.modules[owner], node.attr)
                        found += [target] if target else []
                elif owner in self.units and self.units[owner].class_name:
                    found += self._methods_of(owner, node.attr)
            return found
        return []

    def _family(self, class_unit: str) -> set[str]:
        """A class with its ancestors and descendants (an instance of the class, or of a subclass,
        finds a method anywhere among them; a sibling class's methods never)."""
        family, todo = {class_unit} | self._ancestors(class_unit), [class_unit]
        while todo:
            for sub in self.subclasses.get(todo.pop(), []):
                if sub not in family:
                    family.add(sub)
                    todo.append(sub)
        return family

    def _call_classes(self, module: _Module, call: ast.AST, lineage: set[str], depth: int = 0) -> set[str] | None:
        """The library classes a call makes: ``Class(...)``, ``Class.build(...)``, or a ``self``
        method of the lineage whose every return makes one (None: not known)."""
        if not isinstance(call, ast.Call) or depth > 5:
            return None
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            found = set()
            methods = [m for c in lineage for m in [f"{c}.{func.attr}"] if m in self.units]
            if not methods:
                return None
            for method in methods:
                unit = self.units[method]
                returns = [n.value for n in ast.walk(unit.node) if isinstance(n, ast.Return) and n.value is not None]
                if not returns and _only_raises(unit.node):
                    continue  # an abstract method: its overrides make the value
                if not returns:
                    return None
                for value in returns:
                    classes = self._call_classes(self.modules[unit.module], value, lineage, depth + 1)
                    if not classes:
                        return None
                    found |= classes
            return found
        owner = func.value if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else func
        return self._classes_in(module, owner) or None

    def _attribute_classes(self, class_unit: str, attribute: str) -> set[str] | None:
        """The library classes ``self.<attribute>`` holds, from every assignment to it in the
        class's lineage (None: one of them is not known)."""
        lineage, found = self._family(class_unit), set()
        for owner in lineage:
            for method in self.class_methods.get(owner, []):
                unit = self.units[method]
                for node in ast.walk(unit.node):
                    targets = node.targets if isinstance(node, ast.Assign) else []
                    for target in targets:
                        if isinstance(target, ast.Attribute) and target.attr == attribute \
                                and isinstance(target.value, ast.Name) and target.value.id == "self":
                            classes = self._call_classes(self.modules[unit.module], node.value, lineage)
                            if classes is None:
                                return None
                            found |= classes
                        elif isinstance(target, ast.Tuple) and any(
                                isinstance(t, ast.Attribute) and t.attr == attribute for t in target.elts):
                            return None
        return found or None

    def _classes_in(self, module: _Module, annotation) -> set[str]:
        """The library classes an annotation names (``X``, ``X | None``, ``"X"``, ``list[X]``)."""
        if annotation is None:
            return set()
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return set()
        found = set()
        for node in ast.walk(annotation):
            if isinstance(node, (ast.Name, ast.Attribute)):
                found |= {t for t in self._resolve_expression(module, node)
                          if t in self.units and self.units[t].class_name and "." not in t.split(":")[1]}
        return found

    def _local_types(self, module: _Module, node: ast.AST) -> dict[str, set[str]]:
        """Names whose library class a function states: annotated arguments and names assigned
        from a class's call (``x = Encoder(...)``, ``x = Settings.from_dict(...)``). A name with a
        known class calls only that class's (and its family's) methods."""
        typed: dict[str, set[str]] = {}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                classes = self._classes_in(module, arg.annotation)
                if classes:
                    typed.setdefault(arg.arg, set()).update(classes)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign) and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name) \
                    and isinstance(inner.value, ast.Call):
                func = inner.value.func
                owner = func.value if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else func
                classes = self._classes_in(module, owner)
                if classes:
                    typed.setdefault(inner.targets[0].id, set()).update(classes)
            elif isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
                classes = self._classes_in(module, inner.annotation)
                if classes:
                    typed.setdefault(inner.target.id, set()).update(classes)
        # a name bound twice (to a class and to something else) is not known: keep only names bound to classes
        bound_otherwise = {t.id for inner in ast.walk(node) if isinstance(inner, (ast.Assign, ast.For, ast.With))
                           for t in ast.walk(inner) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)
                           and not (isinstance(inner, ast.Assign) and isinstance(inner.value, ast.Call)
                                    and self._classes_in(module, inner.value.func.value
                                                         if isinstance(inner.value.func, ast.Attribute)
                                                         and isinstance(inner.value.func.value, ast.Name)
                                                         else inner.value.func))}
        return {name: classes for name, classes in typed.items() if name not in bound_otherwise}

    def top_level_imports(self, module_name: str) -> set[str]:
        """The library modules importing ``module_name`` runs: its packages and its top level's imports."""
        module = self.modules[module_name]
        parts = module_name.split(".")
        found = {".".join(parts[:i]) for i in range(1, len(parts))}
        for statement in module.tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module \
                    and statement.module.split(".")[0] == PACKAGE:
                found.add(statement.module)
                found |= {f"{statement.module}.{a.name}" for a in statement.names}
            elif isinstance(statement, ast.Import):
                found |= {a.name for a in statement.names if a.name.split(".")[0] == PACKAGE}
        return {name for name in found if name in self.modules and name != module_name}

    def _ancestors(self, class_unit: str) -> set[str]:
        found, todo = set(), list(self.bases.get(class_unit, []))
        while todo:
            unit = todo.pop()
            if unit not in found:
                found.add(unit)
                todo += self.bases.get(unit, [])
        return found

    def _methods_of(self, class_unit: str, attribute: str) -> list[str]:
        return sorted(name for name in (f"{c}.{attribute}" for c in self._family(class_unit)) if name in self.units)

    def references(self, unit_name: str) -> set[str]:
        """The units and modules one unit names (what running it may run)."""
        if unit_name in self._references:
            return self._references[unit_name]
        unit = self.units[unit_name]
        module = self.modules[unit.module]
        found: set[str] = {f"{unit.module}:{MODULE_UNIT}"}
        if isinstance(unit.node, ast.Module):  # importing a module imports its package and what its top level imports
            found |= self.top_level_imports(unit.module)
        class_unit = f"{unit.module}:{unit.class_name}" if unit.class_name else None
        if class_unit and class_unit != unit_name:
            found.add(class_unit)
        if class_unit == unit_name:  # a class: its bases, and what Python or torch calls on it implicitly
            found |= set(self.bases.get(unit_name, []))
            for method in self.class_methods.get(unit_name, []):
                name = method.rsplit(".", 1)[1]
                if (name.startswith("__") and name.endswith("__")) or name in IMPLICIT_METHODS:
                    found.add(method)
        called = {id(n.func) for n in ast.walk(unit.node) if isinstance(n, ast.Call)}
        typed = self._local_types(module, unit.node)
        for node in ast.walk(unit.node):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") \
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                found |= set(self.methods.get(node.args[1].value, []))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                target = self._resolve_name(module, node.id)
                if target:
                    found.add(target)
            elif isinstance(node, ast.Attribute):
                resolved = self._resolve_expression(module, node)
                if resolved:
                    found |= set(resolved)
                elif isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and class_unit:
                    found |= set(self._methods_of(class_unit, node.attr)) or set(self.methods.get(node.attr, []))
                elif isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name) \
                        and node.value.value.id == "self" and class_unit \
                        and self._attribute_classes(class_unit, node.value.attr) and id(node) in called:
                    found |= {m for c in self._attribute_classes(class_unit, node.value.attr)
                              for m in self._methods_of(c, node.attr)}
                elif isinstance(node.value, ast.Name) and node.value.id in typed:
                    found |= {m for c in typed[node.value.id] for m in self._methods_of(c, node.attr)}
                elif _is_super(node.value) and class_unit:
                    found |= {f"{c}.{node.attr}" for c in self._ancestors(class_unit)} & self.units.keys()
                elif not _is_dunder(node.attr) and node.attr not in COMMON_NAMES \
                        and not self._resolve_expression(module, node.value):
                    # an unknown object's attribute: a method of that name when called, a property when read
                    found |= set(self.methods.get(node.attr, []) if id(node) in called
                                 else self.properties.get(node.attr, []))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in self.modules:  # importlib.import_module("otclir....")
                    found.add(node.value)
        found.discard(unit_name)
        self._references[unit_name] = found
        return found

    # ------------------------------------------------------------------ reach
    def entry_units(self, entry: str) -> list[str]:
        """The units an entry names: ``module:qualname`` itself, or every unit a module defines."""
        if ":" in entry:
            if entry not in self.units:
                raise KeyError(f"no function, class or method {entry!r} in the library")
            return [entry]
        if entry not in self.modules:
            raise KeyError(f"no module {entry!r} in the library")
        return sorted(name for name, unit in self.units.items() if unit.module == entry)

    def reach(self, *entries: str) -> set[str]:
        """Every unit the entries can run, following references transitively. A method found
        through an object (``self.m()``, ``obj.m()``) counts only once its class is *live*: named
        by a reached unit, so that an instance can exist (rapid type analysis: a trainer's
        ``self.batch_losses()`` reaches the distiller's, not a contrastive trainer's that nothing
        reached makes)."""
        seen: set[str] = set()
        waiting: dict[str, list[str]] = {}  # class unit -> its methods found before it was live
        todo = [unit for entry in entries for unit in self.entry_units(entry)]
        entry_set = set(todo)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            if name in self.modules:  # a module named as a whole: its top level runs on import
                name = f"{name}:{MODULE_UNIT}"
                if name in seen:
                    continue
            if name.split(":")[0] in UNKEYED:
                continue
            owner = self._owner_class(name)
            if owner and owner not in seen and name not in entry_set:
                waiting.setdefault(owner, []).append(name)
                continue
            seen.add(name)
            todo += [r for r in self.references(name) if r not in seen]
            todo += waiting.pop(name, [])
        return seen

    def _owner_class(self, unit_name: str) -> str | None:
        """The class unit a method belongs to (None for functions, class bodies and modules)."""
        unit = self.units.get(unit_name)
        if unit is None or not unit.class_name:
            return None
        owner = f"{unit.module}:{unit.class_name}"
        return owner if owner != unit_name else None

    def digest(self, unit_name: str) -> str:
        unit = self.units[unit_name]
        tree = self._strip_guards(_strip_docstrings(unit.node), self.modules[unit.module])
        return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]

    def _strip_guards(self, tree: ast.AST, module: _Module) -> ast.AST:
        """``tree`` (a copy) without guard statements: imports of :data:`GUARDS` and statements that
        only call a guard with arguments free of effects (see :meth:`is_guard_statement`)."""
        for node in ast.walk(tree):
            for field_name in ("body", "orelse", "finalbody"):
                statements = getattr(node, field_name, None)
                if not isinstance(statements, list) or not statements or not isinstance(statements[0], ast.stmt):
                    continue
                kept = [s for s in statements if not self.is_guard_statement(s, module)]
                if len(kept) < len(statements):
                    setattr(node, field_name, kept or [ast.Pass()])
        return tree

    def is_guard_statement(self, statement: ast.stmt, module: _Module) -> bool:
        if isinstance(statement, ast.ImportFrom):
            return statement.level == 0 and (statement.module == GUARDS or (
                statement.module == PACKAGE and all(a.name == GUARDS.split(".")[1] for a in statement.names)))
        if isinstance(statement, ast.Import):
            return all(a.name == GUARDS for a in statement.names)
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            return False
        call = statement.value
        func = call.func
        if isinstance(func, ast.Name):
            source = module.imports.get(func.id)
            is_guard = source is not None and source[0] == GUARDS
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            source = module.imports.get(func.value.id)
            is_guard = source in ((GUARDS, None), (PACKAGE, GUARDS.split(".")[1]))
        else:
            is_guard = False
        if not is_guard:
            return False
        for argument in [*call.args, *(k.value for k in call.keywords)]:
            for inner in ast.walk(argument):
                if isinstance(inner, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, ast.Lambda)):
                    return False
                if isinstance(inner, ast.Call) and not (isinstance(inner.func, ast.Name)
                                                        and inner.func.id in PURE_CALLS):
                    return False
        return True

    def lines(self, unit_name: str) -> int:
        node = self.units[unit_name].node
        if isinstance(node, ast.Module):
            return sum(s.end_lineno - s.lineno + 1 for s in node.body if hasattr(s, "lineno"))
        if isinstance(node, ast.ClassDef):
            return sum(s.end_lineno - s.lineno + 1 for s in node.body if hasattr(s, "lineno")) + 1
        return node.end_lineno - node.lineno + 1

    def strings(self, unit_name: str) -> set[str]:
        return {n.value for n in ast.walk(self.units[unit_name].node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    def unit_of_code(self, filename: str, qualname: str) -> str | None:
        """The unit a running code object belongs to (a nested function or a comprehension belongs
        to the function around it; a class body's code to the class)."""
        try:
            module = _module_name(Path(filename).resolve(), self.root)
        except ValueError:
            return None
        if module not in self.modules:
            return None
        outer = qualname.split(".<locals>")[0].split(".<")[0]  # a lambda in a class body: the class
        if outer.startswith("<"):  # "<module>", and comprehensions at module level
            return f"{module}:{MODULE_UNIT}"
        name = f"{module}:{outer}"
        return name if name in self.units else None

    def is_class_body(self, unit_name: str) -> bool:
        unit = self.units.get(unit_name)
        return bool(unit and isinstance(unit.node, ast.ClassDef))


# File-system and container operations that library classes also define (``ResultStore.exists``):
# called on an object of unknown type, these are read as the builtins' (``path.exists()``), or every
# file check would reach the result stores. ``tests/test_code_reach.py`` holds the choice to a trace.
COMMON_NAMES = frozenset({"exists", "remove", "owner"})


def _is_main_block(statement: ast.stmt) -> bool:
    test = getattr(statement, "test", None)
    return isinstance(statement, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) \
        and test.left.id == "__name__"


PROPERTIES = {"property", "cached_property", "setter", "getter"}


def _decorator_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _only_raises(node: ast.AST) -> bool:
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def _is_super(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _assigned_names(statement: ast.stmt) -> list[str]:
    targets = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        targets = [statement.target]
    names = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


@lru_cache(maxsize=1)
def library_index() -> CodeIndex:
    return CodeIndex()


@dataclass(frozen=True)
class CodeKey:
    """The code a computation runs, as unit digests, and the data files it names, as checksums."""

    units: dict
    data: dict
    packages: dict

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for kind in (self.units, self.data, self.packages):
            for name in sorted(kind):
                digest.update(f"{name}\0{kind[name]}\0".encode())
            digest.update(b"\1")
        return digest.hexdigest()[:16]

    def record(self) -> dict:
        return {"code": self.fingerprint, "units": dict(sorted(self.units.items())),
                "data": dict(sorted(self.data.items())), "packages": dict(sorted(self.packages.items()))}

    def changes(self, recorded: dict) -> list[str]:
        """What differs from a recorded key (:meth:`record`): changed, new and removed units, data
        files and package versions, one line each."""
        lines = []
        for kind, now in (("units", self.units), ("data", self.data), ("packages", self.packages)):
            before = recorded.get(kind) or {}
            for name in sorted(set(now) | set(before)):
                if name not in before:
                    lines.append(f"{name} is new")
                elif name not in now:
                    lines.append(f"{name} is no longer run")
                elif before[name] != now[name]:
                    lines.append(f"{name} changed")
        return lines


# packages whose version changes numbers a computation writes; data packages are checksummed
KEY_PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "scipy", "pot")


def installed_versions(names=KEY_PACKAGES) -> dict:
    import importlib.metadata as metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def code_key(*entries: str, index: CodeIndex | None = None) -> CodeKey:
    """The key of what the entries compute: the digest of every unit they reach, the checksum of
    every file of ``data/`` a reached unit names, and the versions of :data:`KEY_PACKAGES`."""
    from otclir.paths import data_dir

    index = index or library_index()
    units = index.reach(*entries)
    data_files = {p.name: p for p in sorted(data_dir().glob("*")) if p.is_file()}
    named = set().union(*(index.strings(u) for u in units)) if units else set()
    data = {f"data/{name}": hashlib.sha256(path.read_bytes()).hexdigest() for name, path in data_files.items()
            if name in named}
    return CodeKey({u: index.digest(u) for u in units}, data, installed_versions())


def traced_units(function, *args, index: CodeIndex | None = None, **kwargs) -> tuple[set[str], object]:
    """Call ``function`` under a call trace; returns the library units that ran (in this process and
    its threads) and the call's value. What a key must cover, measured: a test holds :func:`reach`
    to it."""
    import sys
    import threading

    index = index or library_index()
    root = str(index.root)
    ran: set[str] = set()
    seen_code: set = set()

    bookkeeping = tuple(str(index.modules[m].path) for m in UNKEYED if m in index.modules)

    here = sys._getframe()

    def under_bookkeeping(frame) -> bool:  # what the key's own machinery runs is not the computation's
        while frame is not None and frame is not here:
            if frame.f_code.co_filename in bookkeeping:
                return True
            frame = frame.f_back
        return False

    def tracer(frame, event, arg):
        code = frame.f_code
        if event == "call" and code not in seen_code and not under_bookkeeping(frame):
            seen_code.add(code)
            if code.co_filename.startswith(root):
                unit = index.unit_of_code(code.co_filename, code.co_qualname)
                # a class body runs when its module is imported, used or not: its uses reach it
                if not (unit and index.is_class_body(unit) and code.co_qualname == unit.split(":")[1]):
                    ran.add(unit or f"?{code.co_filename}:{code.co_qualname}")
        return None

    previous = sys.gettrace()
    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        value = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
        threading.settrace(None)
    return ran, value
