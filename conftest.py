"""Settings for every test run, unit tests and nbval alike (pytest loads this file first)."""
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Figures written while testing (nbval re-executes the stored notebooks) go to a temporary folder,
# so a test run leaves the tracked figures/ as it found them.
os.environ["OTCLIR_FIGURES"] = tempfile.mkdtemp(prefix="otclir-test-figures-")
# Under pytest-xdist each worker (and the kernels and processes it starts) gets an equal share of the
# cores: torch's default of a thread per core in every worker oversubscribes them several times over.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)


def pytest_collection_modifyitems(config, items):
    """Order test files for pytest-xdist's loadfile scheduling (`--no-loadscope-reorder` keeps this
    order): the files with the costliest tests first (the `cost` marker: typical seconds on two free
    cores, a scheduling weight and never an assertion), then the stored notebooks under nbval, then
    the rest as collected. Started last, a file of several minutes leaves the other worker idle."""
    cost = {}
    for item in items:
        marker = item.get_closest_marker("cost")
        cost[item.path] = cost.get(item.path, 0) + (marker.args[0] if marker else 0)
    items.sort(key=lambda item: (-cost[item.path], item.path.suffix != ".ipynb"))


def pytest_unconfigure(config):
    shutil.rmtree(os.environ["OTCLIR_FIGURES"], ignore_errors=True)
