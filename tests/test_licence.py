"""The licence rule: no committed file or stored notebook output quotes a restricted translation."""
import pytest

from otclir.data import licence
from otclir.data.bible import read_version


@pytest.fixture(scope="module")
def index():
    return licence.RestrictedIndex()


@pytest.mark.slow
@pytest.mark.cost(40)
def test_no_committed_file_quotes_restricted_verse_text(index):
    files = licence.committed_files()
    assert any(p.suffix == ".ipynb" for p in files)
    offending = licence.scan(files, index)
    assert offending == {}, f"restricted verse text (ids shown, not text) in: {offending}"


def test_the_check_finds_a_quoted_verse_and_spares_public_domain(index, tmp_path, web):
    quoted = tmp_path / "notes.md"
    quoted.write_text("As the text says: " + read_version("h")[(43, 3, 16)] + " (end)")
    assert licence.scan([quoted], index) == {str(quoted): ["h:43003016"]}
    clean = tmp_path / "pd.md"
    clean.write_text(" ".join(web[k] for k in sorted(web)[:200]) + " " + read_version("k")[(43, 3, 16)])
    assert licence.scan([clean], index) == {}


def test_a_short_verse_is_found_inside_a_longer_text(index, tmp_path):
    short = next(((v, key, text) for v in index.versions for key, text in read_version(v).items()
                  if licence.MIN_TOKENS <= len(licence.tokens(text)) < licence.SHINGLE and index.matches(text)), None)
    assert short, "the restricted versions have short verses of their own"
    version, key, text = short
    path = tmp_path / "table.csv"
    path.write_text("step,AP\n0,0.0520\nnote: " + text + " ; 1,0.0577\n")
    assert f"{version}:{licence.verse_id(key)}" in licence.scan([path], index)[str(path)]


def test_notebook_outputs_are_searched(index, tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(x)")
    cell.outputs = [nbformat.v4.new_output("stream", text=read_version("chichewa")[(1, 1, 1)])]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert licence.scan([path], index) == {str(path): ["chichewa:01001001"]}


def test_compressed_results_are_searched_too(index, tmp_path):
    import gzip

    path = tmp_path / "perquery.csv.gz"
    path.write_bytes(gzip.compress(("query,text\n45001001," + read_version("h")[(45, 1, 1)] + "\n").encode()))
    assert licence.scan([path], index) == {str(path): ["h:45001001"]}
