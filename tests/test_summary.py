"""The README's results are generated: its block equals results/paper/SUMMARY.md, and both equal
what the stored results give."""
import pytest

from otclir import summary
from otclir.errors import OtclirError
from otclir.paths import project_root


def test_the_readme_opens_with_the_committed_summarys_findings_and_results_md_holds_it_all():
    readme = (project_root() / "README.md").read_text(encoding="utf-8")
    text = summary.summary_path("paper").read_text(encoding="utf-8")
    assert summary.readme_block(readme) == summary.headline(text)
    assert summary.results_path().read_text(encoding="utf-8") == summary.results_page(text)


def test_the_headline_is_the_findings_line_and_its_first_bullets():
    text = "**Findings** (intervals 95%):\n\n- one\n- two\n- three\n\n**Table**\n"
    assert summary.headline(text) == "**Findings** (intervals 95%):\n\n- one\n- two\n"
    with pytest.raises(OtclirError, match="no findings block"):
        summary.headline("no findings here")


def test_the_readme_is_short():
    words = len((project_root() / "README.md").read_text(encoding="utf-8").split())
    assert words <= 1600, f"the README has {words} words; details go to docs/ and results to RESULTS.md"


def test_the_block_is_replaced_between_its_markers_and_missing_markers_are_named():
    text = f"intro\n{summary.START}\nold numbers\n{summary.END}\nrest\n"
    assert summary.with_block(text, "new\n") == f"intro\n{summary.START}\nnew\n{summary.END}\nrest\n"
    assert summary.readme_block(summary.with_block(text, "new\n")) == "new\n"
    with pytest.raises(OtclirError, match="no generated results block"):
        summary.readme_block("a README without markers")


@pytest.mark.slow
@pytest.mark.cost(40)
def test_the_summary_is_what_the_stored_results_give():
    assert summary.write("paper", check=True) == []


def test_every_stored_part_of_the_paper_profile_is_in_the_summary():
    from otclir.experiments.language_sweep import SweepStore
    from otclir.experiments.larger_budget import LargerBudgetStore

    text = summary.summary_path("paper").read_text(encoding="utf-8")
    if LargerBudgetStore("paper").exists():
        assert "The same question at a larger budget" in text and "Does the answer change with the budget?" in text
    if SweepStore("paper").exists():
        assert "Notebook 05's language sweep" in text and "- Across the " in text
