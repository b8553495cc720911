"""Every result the paper profile stores was computed by the code on this checkout: its recorded
fingerprint is the one its store computes now (a change to that code means recomputing it)."""
import json

import pytest

from otclir.experiments.language_sweep import SweepStore
from otclir.experiments.larger_budget import LargerBudgetStore
from otclir.experiments.results import ResultStore

STORES = {"03_distillation_training": lambda: ResultStore("paper", "03_distillation_training"),
          "04_hybrid_batch_ablations": lambda: ResultStore("paper", "04_hybrid_batch_ablations"),
          "04_hybrid_batch_ablations.larger_budget": lambda: LargerBudgetStore("paper"),
          "03_distillation_training.languages": lambda: SweepStore("paper")}


@pytest.mark.parametrize("name", sorted(STORES))
def test_each_stored_result_carries_the_fingerprint_of_the_code_that_computes_it_now(name):
    store = STORES[name]()
    if not store.exists():
        pytest.skip(f"results/paper/{name}/ is not stored")
    recorded = json.loads(store.path("provenance.json").read_text(encoding="utf-8"))["code"]
    assert recorded == store.code, (f"results/paper/{name}/ was computed by code {recorded}, this checkout's is "
                                    f"{store.code}: recompute it")
