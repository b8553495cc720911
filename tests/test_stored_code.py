"""Every result the paper profile stores was computed by the code on this checkout: its recorded
fingerprint is the one its store computes now (a change to that code means recomputing it)."""
import json
import shutil

import pytest

from otclir import summary
from otclir.experiments.stores import stored_results
from otclir.paths import project_root

from helpers import AWAITING_RECOMPUTE

NAMES = sorted(stored_results())


@pytest.mark.parametrize("name", NAMES)
def test_each_stored_result_carries_the_fingerprint_of_the_code_that_computes_it_now(name):
    store = stored_results()[name]
    if not store.exists():
        pytest.skip(f"results/paper/{name}/ is not stored")
    recorded = json.loads(store.path("provenance.json").read_text(encoding="utf-8"))["code"]
    if name in AWAITING_RECOMPUTE:  # stale on purpose, named with why; current again: drop it from the list
        assert recorded != store.code, f"results/paper/{name}/ is current again: drop it from AWAITING_RECOMPUTE"
        return
    assert recorded == store.code, (f"results/paper/{name}/ was computed by code {recorded}, this checkout's is "
                                    f"{store.code}: recompute it")


def test_the_summary_names_each_results_commits_and_a_fingerprint_that_differs(tmp_path, monkeypatch):
    shutil.copytree(project_root() / "results" / "paper" / "02_ot_alignment", tmp_path / "paper" / "02_ot_alignment")
    monkeypatch.setenv("OTCLIR_RESULTS", str(tmp_path))
    [row] = [line for line in summary.provenance_table() if line.startswith("| `")]
    recorded = json.loads((tmp_path / "paper" / "02_ot_alignment" / "provenance.json").read_text())
    assert row == f"| `02_ot_alignment` | {recorded['git']['commit'][:7]} | {recorded['code']} | yes |"
    recorded["code"] = "0" * 16  # other code computed it
    (tmp_path / "paper" / "02_ot_alignment" / "provenance.json").write_text(json.dumps(recorded))
    assert summary.provenance_table()[-1].endswith("| 0000000000000000 | no: recompute it |")
