"""One way to declare settings: checks on fields, unknown names refused, records that keep the
identity of results stored before a setting existed."""
from dataclasses import dataclass

import pytest

from otclir.errors import OtclirError
from otclir.settings import (
    Settings,
    as_json,
    choice,
    each,
    flag,
    mapping,
    number,
    positive,
    probability,
    setting,
    text,
    whole,
)


@dataclass
class Toy(Settings):
    WHAT = "toy setting"

    steps: int = setting(3, check=whole(1))
    lr: float = setting(1e-3, check=positive)
    share: float = setting(0.5, check=probability)
    kind: str = setting("a", check=choice(("a", "b"), "kinds"))
    names: list = setting(factory=lambda: ["x"], check=each(text(), distinct=True))
    on: bool = setting(True, check=flag())
    extra: dict = setting(factory=dict, check=mapping())
    later: int | None = setting(None, check=whole(0, none=True), added=None)


CASES = [
    ({"steps": 0}, "steps must be a whole number of at least 1, got 0"),
    ({"steps": 2.5}, "steps must be a whole number of at least 1, got 2.5"),
    ({"steps": True}, "steps must be a whole number of at least 1, got True"),
    ({"lr": "abc"}, "lr must be positive, got 'abc'"),
    ({"lr": "3e-4"}, "YAML reads 3e-4 as text; write it with a decimal point, e.g. 3.0e-4"),
    ({"lr": float("nan")}, "lr must be positive, got nan"),
    ({"share": 5}, "share is a probability in [0, 1], got 5"),
    ({"kind": "c"}, "unknown kind 'c'; kinds: a, b"),
    ({"names": []}, "give at least one value in names"),
    ({"names": ["x", "x"]}, "names names 'x' twice"),
    ({"names": "x"}, "names must be a list, got 'x'"),
    ({"names": ["x", 3]}, "names[1] must be a text, got 3"),
    ({"on": "yes"}, "on must be true or false, got 'yes'"),
    ({"extra": [1]}, "extra must be a mapping of name: value, got [1]"),
    ({"later": -1}, "later must be a whole number of at least 0, or None, got -1"),
]


@pytest.mark.parametrize("values,message", CASES, ids=[m for _, m in CASES])
def test_a_bad_value_is_refused_with_the_setting_the_value_and_what_is_allowed(values, message):
    with pytest.raises(OtclirError) as error:
        Toy(**values)
    assert message in str(error.value)


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(OtclirError, match="unknown toy setting\\(s\\) stepz; settings: extra, kind, later, lr"):
        Toy.from_dict({"stepz": 3})
    with pytest.raises(OtclirError, match="toy settings are a mapping"):
        Toy.from_dict(["steps"])
    assert Toy.from_dict(None) == Toy()


def test_a_setting_added_later_is_left_out_of_the_record_at_its_old_value():
    record = Toy().to_record()
    assert "later" not in record and record["steps"] == 3 and record["names"] == ["x"]
    assert Toy(later=2).to_record()["later"] == 2


def test_notebook_parameters_give_the_settings_they_name():
    namespace = {"steps": 7, "kind": "b", "unrelated": object(), "display": print}
    assert Toy.from_parameters(namespace) == Toy(steps=7, kind="b")


def test_a_registry_given_as_choices_is_read_when_checked():
    registry = {"a": 1}
    check = choice(registry, "entries")
    registry["b"] = 2
    check("entry", "b")
    with pytest.raises(OtclirError, match="unknown entry 'c'; entries: a, b"):
        check("entry", "c")


def test_number_ranges_and_records_as_json():
    with pytest.raises(OtclirError, match="x must be a number of at least 0 at most 2, got 3"):
        number(0, 2)("x", 3)
    import numpy as np

    assert as_json({"a": np.float32(0.5), "b": (1, 2), "c": np.arange(2)}) == {"a": 0.5, "b": [1, 2], "c": [0, 1]}
