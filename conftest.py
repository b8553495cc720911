"""Settings for every test run, unit tests and nbval alike (pytest loads this file first)."""
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Figures written while testing (nbval re-executes the stored notebooks) go to a temporary folder,
# so a test run leaves the tracked figures/ as it found them.
os.environ["OTCLIR_FIGURES"] = tempfile.mkdtemp(prefix="otclir-test-figures-")


def pytest_unconfigure(config):
    shutil.rmtree(os.environ["OTCLIR_FIGURES"], ignore_errors=True)
