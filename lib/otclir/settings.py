"""One way to declare settings: a dataclass whose fields carry their own checks.

A settings class derives from :class:`Settings` and declares each field with :func:`setting`
(a default, a check, and, for a setting added after results were stored, the value it had
before). It then gets, with no code of its own:

- :meth:`Settings.from_dict`: built from a mapping (a YAML section, a notebook's parameters),
  unknown names refused with the list of known ones;
- every field checked as the object is made, one message naming the setting, the value and
  what is allowed, before anything is computed;
- :meth:`Settings.to_record`: the settings as stored (JSON-ready), leaving out settings added
  later while they hold the value they had before, so records written before they existed
  still match.

Checks are small callables made by :func:`whole`, :func:`number`, :func:`choice`,
:func:`flag`, :func:`text`, :func:`each` and :func:`mapping`. :func:`jsonable` is the one JSON
converter of the package.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable

from otclir.errors import OtclirError

Check = Callable[[str, Any], None]
_NOT_ADDED = object()


class SettingError(OtclirError, ValueError):
    """A setting with a value it cannot take; the message names the setting, value and what is allowed."""


def setting(default=dataclasses.MISSING, *, check: Check | None = None, factory=None, added=_NOT_ADDED):
    """A dataclass field with a check; ``factory`` for mutable defaults (lists, dicts); ``added``:
    the behaviour the setting's value had before it existed (left out of records at that value)."""
    metadata = {"check": check}
    if added is not _NOT_ADDED:
        metadata["added"] = added
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _fail(name: str, value, allowed: str):
    hint = ""
    if isinstance(value, str) and _looks_numeric(value):
        hint = f" (YAML reads {value} as text; write it with a decimal point, e.g. {_with_point(value)})"
    verb = "" if allowed.startswith(("is ", "must ")) else "must be "
    raise SettingError(f"{name} {verb}{allowed}, got {value!r}{hint}")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _with_point(text: str) -> str:
    mantissa, _, exponent = text.lower().partition("e")
    return (mantissa if "." in mantissa else mantissa + ".0") + ("e" + exponent if exponent else "")


def is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(minimum: int | None = None, maximum: int | None = None, none: bool = False, says: str | None = None) -> Check:
    """A whole number (not a boolean) in [minimum, maximum]; ``none``: None allowed too."""
    parts = ["a whole number"] + ([f"of at least {minimum}"] if minimum is not None else []) \
        + ([f"at most {maximum}"] if maximum is not None else [])
    allowed = says or " ".join(parts) + (", or None" if none else "")

    def check(name, value):
        if value is None and none:
            return
        if not is_whole(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            _fail(name, value, allowed)
    return check


def number(minimum: float | None = None, maximum: float | None = None, above: float | None = None,
           below: float | None = None, none: bool = False, says: str | None = None) -> Check:
    """A finite number (not a boolean) in [minimum, maximum], strictly above ``above`` and below
    ``below`` where those are given."""
    if says is None:
        if above == 0 and minimum is None and maximum is None and below is None:
            says = "positive"
        else:
            parts = ["a number"] + ([f"above {above:g}"] if above is not None else []) \
                + ([f"below {below:g}"] if below is not None else []) \
                + ([f"of at least {minimum:g}"] if minimum is not None else []) \
                + ([f"at most {maximum:g}"] if maximum is not None else [])
            says = " ".join(parts)
        says += ", or None" if none else ""

    def check(name, value):
        if value is None and none:
            return
        if (not is_number(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
                or (above is not None and not value > above) or (below is not None and not value < below)):
            _fail(name, value, says)
    return check


positive = number(above=0)
probability = number(0, 1, says="is a probability in [0, 1]")


def choice(options, label: str | None = None, none: bool = False) -> Check:
    """One of ``options`` (a registry such as a dict is read when a value is checked, so entries
    added to it later count); the message lists them (``label`` names them: 'dev signals')."""
    def check(name, value):
        if value is None and none:
            return
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value not in options:
            raise SettingError(f"unknown {name} {value!r}; {label or name + ' values'}: "
                               + ", ".join(str(o) for o in options) + (" (or None)" if none else ""))
    return check


def flag() -> Check:
    def check(name, value):
        if not isinstance(value, bool):
            _fail(name, value, "true or false")
    return check


def text(none: bool = False, empty: bool = False) -> Check:
    def check(name, value):
        if value is None and none:
            return
        if not isinstance(value, str) or (not empty and not value.strip()):
            _fail(name, value, "a text" + (", or None" if none else ""))
    return check


def each(item: Check, distinct: bool = False, empty: bool = False, none: bool = False) -> Check:
    """A list (or tuple) whose every element passes ``item``; ``distinct``: no value twice."""
    def check(name, value):
        if value is None and none:
            return
        if not isinstance(value, (list, tuple)):
            _fail(name, value, "a list" + (", or None" if none else ""))
        if not value and not empty:
            raise SettingError(f"give at least one value in {name}, got an empty list")
        for i, element in enumerate(value):
            item(f"{name}[{i}]", element)
        if distinct:
            seen = [v for i, v in enumerate(value) if v in value[:i]]
            if seen:
                raise SettingError(f"{name} names {seen[0]!r} twice; give each value once")
    return check


def mapping(none: bool = False) -> Check:
    def check(name, value):
        if value is None and none:
            return
        if not isinstance(value, dict):
            _fail(name, value, "a mapping of name: value" + (", or None" if none else ""))
    return check


class Settings:
    """Base of every settings dataclass. Subclasses set ``WHAT`` (how messages name one of their
    settings: 'training setting') and call ``super().__post_init__()`` from their own."""

    WHAT = "setting"

    def __post_init__(self):
        self.check_fields()

    def check_fields(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is not None:
                check(f.name, getattr(self, f.name))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values):
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise SettingError(f"{cls.WHAT}s are a mapping of name: value, got {type(values).__name__} {values!r}")
        known = set(cls.names())
        unknown = sorted(str(k) for k in set(values) - known)
        if unknown:
            raise SettingError(f"unknown {cls.WHAT}(s) {', '.join(unknown)}; settings: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_parameters(cls, namespace: dict):
        """The settings a notebook's parameters name (``namespace``: its ``globals()``); settings it
        does not declare keep their defaults."""
        return cls.from_dict({name: namespace[name] for name in cls.names() if name in namespace})

    def to_record(self) -> dict:
        """The settings as stored: JSON-ready, settings added later left out at their old value."""
        values = as_json(dataclasses.asdict(self))
        for f in dataclasses.fields(self):
            if "added" in f.metadata and values.get(f.name) == f.metadata["added"]:
                values.pop(f.name)
        return values


def jsonable(value):
    """``json.dumps``'s ``default``: NumPy scalars and arrays, paths."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def as_json(value):
    """``value`` as it reads back from a JSON file (tuples as lists, NumPy scalars as numbers)."""
    return json.loads(json.dumps(value, default=jsonable))
