"""The public API (:data:`otclir.api.PUBLIC`) walked with generated bad arguments.

Each public function is called as its own doctest calls it, with one argument replaced by a value
drawn for that argument's kind (a NaN or infinity in numbers, text where numbers go, extra
dimensions, a number where text goes, a non-integer where a count goes, a missing function).
Each call must end in the project's error (:class:`otclir.errors.OtclirError`) within a time
bound: never a raw numpy, scipy or torch exception, never an answer. A function added to
``PUBLIC`` is walked without a new test."""
import copy
import contextlib
import doctest
import inspect
import io
import math
import numbers
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otclir.api import PUBLIC, public_functions
from otclir.errors import OtclirError

SECONDS = 10  # a call that takes longer is a hang
EXAMPLES = 12  # bad values drawn per argument


def valid_call(function) -> inspect.BoundArguments:
    """The arguments of the first call of ``function`` its own doctest makes (defaults filled in)."""
    module = inspect.getmodule(function)
    calls = []

    def recorder(*args, **kwargs):
        calls.append(copy.deepcopy((args, kwargs)))
        return function(*args, **kwargs)

    namespace = dict(vars(module))
    namespace[function.__name__] = recorder
    for example in doctest.DocTestParser().get_examples(function.__doc__ or ""):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(example.source, "<doctest>", "exec"), namespace)
        if calls:
            break
    assert calls, f"{function.__module__}.{function.__name__} has no doctest that calls it"
    args, kwargs = calls[0]
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def _numbers(value) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.size else None


def bad_values(value, annotation: str):
    """A strategy of values that must be refused where ``value`` is valid (None: not walked)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (str, os.PathLike)):
        return st.sampled_from([3, 2.5])  # a number where text or a path goes
    if isinstance(value, numbers.Real):
        bad = st.sampled_from([math.nan, math.inf, -math.inf, "1"])
        if isinstance(value, numbers.Integral) and "float" not in annotation:
            bad = bad | st.floats(0.1, 1e3).filter(lambda x: not float(x).is_integer())
        return bad
    if callable(value) and not isinstance(value, torch.Tensor):
        return st.just(42)
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():  # masks and labels: numbers of another kind, or a list
            return st.sampled_from([value.double().fill_(math.nan), value.tolist()])
        return st.one_of(
            st.integers(0, max(value.numel() - 1, 0)).map(lambda i: value.clone().view(-1).index_fill(0, torch.tensor([i]), math.nan).view(value.shape)),
            st.just(value.clone().fill_(math.inf)),
            st.just(value[None, None, None]),
            st.just(value.tolist()))
    if isinstance(value, dict):  # runs and judgments
        qid = next(iter(value))
        inner = value[qid]
        if isinstance(inner, str):  # {id: text}: keys a file cannot hold
            return st.sampled_from([{1: inner}, {"two words": inner}, {"": inner}])
        if not isinstance(inner, dict):  # {id: score}
            return st.sampled_from([{1: inner}, {qid: math.nan}, {qid: "text"}])
        doc = next(iter(inner))
        return st.sampled_from([{1: inner}, {qid: {doc: math.nan}}, {qid: {7: inner[doc]}}, {qid: 0.5}])
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return st.sampled_from([[3], ["no-such-name@@"]])
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return st.sampled_from([[], [v.clone().fill_(math.nan) for v in value], ["text"]])
    array = _numbers(value)
    if array is None:
        return None

    def with_nan(i):
        changed = array.copy().ravel()
        changed[i % changed.size] = math.nan
        return changed.reshape(array.shape)

    return st.one_of(st.integers(0, array.size - 1).map(with_nan),
                     st.just(np.full(array.shape, "text")),
                     st.just(array[None, None, None]))


def walked_arguments():
    found = []
    for name, function in public_functions().items():
        bound = valid_call(function)
        parameters = inspect.signature(function).parameters
        for argument, value in bound.arguments.items():
            if parameters[argument].kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                continue  # passed on to a function the walk reaches by its own name
            if bad_values(value, str(parameters[argument].annotation)) is not None:
                found.append(pytest.param(name, argument, id=f"{name.removeprefix('otclir.')}:{argument}"))
    return found


WALK = walked_arguments()


def _alarm(signum, frame):
    raise TimeoutError(f"no answer within {SECONDS} s")


@pytest.mark.parametrize(("name", "argument"), WALK)
def test_a_bad_argument_is_refused_with_the_projects_error(name, argument):
    function = public_functions()[name]
    bound = valid_call(function)
    annotation = str(inspect.signature(function).parameters[argument].annotation)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(bad_values(bound.arguments[argument], annotation))
    def refused(bad):
        arguments = dict(bound.arguments)
        arguments[argument] = bad
        call = inspect.BoundArguments(bound.signature, arguments)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(SECONDS)
        try:
            answer = function(*call.args, **call.kwargs)
        except OtclirError as error:
            assert str(error), "an error without a message"
            return
        except TimeoutError:
            pytest.fail(f"{name}({argument}={bad!r:.80}) hung")
        except Exception as error:  # noqa: BLE001 - the point: no other error reaches the user
            pytest.fail(f"{name}({argument}={bad!r:.80}) raised {type(error).__name__}: {error}"[:400])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        pytest.fail(f"{name}({argument}={bad!r:.80}) answered {answer!r:.80} instead of refusing")

    refused()


def test_every_public_function_is_walked_and_named_on_the_api_page():
    walked = {name for name, _ in (p.values for p in WALK)}
    assert walked == set(public_functions()), set(public_functions()) - walked
    page = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    for module, names in PUBLIC.items():
        for name in names:
            assert f"{module.rsplit('.', 1)[1]}.{name}" in page or f"`{name}" in page, f"{module}.{name} not in docs/api.md"
