"""Objectives are tuples of registered terms, and system names are built and read in one place."""
import pytest

from otclir.errors import OtclirError
from otclir.retrieval import system_names
from otclir.transport.objectives import OBJECTIVES, TERMS, TRANSPORT_TERM, terms_of, transports


def test_every_objective_is_made_of_registered_terms_with_a_weight_setting():
    from otclir.training.configs import DistillConfig

    for objective, names in OBJECTIVES.items():
        assert set(names) <= set(TERMS), objective
        assert [t.name for t in terms_of(objective)] == [n for n in TERMS if n in names]
    for term in TERMS.values():
        assert hasattr(DistillConfig(), term.weight_setting), term.name
    with pytest.raises(OtclirError, match="unknown objective 'kl'"):
        terms_of("kl")


def test_the_transport_predicate_is_the_transport_term():
    assert {o for o in OBJECTIVES if transports(o)} == {o for o, names in OBJECTIVES.items() if TRANSPORT_TERM in names}
    assert transports("ot+contrastive") and not transports("contrastive") and not transports("no-such-objective")


def test_system_names_round_trip():
    for objective in OBJECTIVES:
        for budget in (500, None):
            name = system_names.distilled_name(objective, budget)
            parsed = system_names.parse(name)
            assert parsed.distilled and parsed.objective == objective
            assert parsed.budget == system_names.budget_tag(budget)
            assert system_names.transports(name) == transports(objective)
    assert system_names.parse("bm25-dictionary@500").budget == "500"
    for fixed in (system_names.ZERO_SHOT, system_names.CEILING, system_names.ORACLE):
        assert not system_names.is_distilled(fixed) and not system_names.transports(fixed)


def test_a_new_objective_is_one_registry_entry(monkeypatch):
    """An objective added to the registry is accepted by the settings and trains its terms."""
    from otclir.training.configs import DistillConfig

    monkeypatch.setitem(OBJECTIVES, "sentence_mse+ot", ("sentence_mse", "ot"))
    config = DistillConfig(objective="sentence_mse+ot")
    assert config.terms == ("sentence_mse", "ot") and transports("sentence_mse+ot")
    assert system_names.transports(system_names.distilled_name("sentence_mse+ot", 500))
