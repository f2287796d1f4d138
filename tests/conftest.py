"""Shared fixtures: the demo study is generated once per test session into a temp folder."""

from __future__ import annotations

import pytest
from hypothesis import settings
from threadpoolctl import threadpool_limits

from kyodo_analysis.demo.generate import generate_demo
from kyodo_analysis.demo.spec import DEFAULT_SEED
from kyodo_analysis.study import Study

# The suite shares two cores with the notebook kernels it starts; like those kernels
# (reporting.runner.KERNEL_THREAD_LIMITS) it runs BLAS single-threaded: with a thread per core
# the small matrices of survey data only make the threads spin against each other.
threadpool_limits(limits=1)

# No time limit per hypothesis example: speed is measured in benchmarks/, never asserted in a
# test, and a loaded CI machine must not fail a correct property.
settings.register_profile("kyodo", deadline=None)
settings.load_profile("kyodo")


def pytest_collection_modifyitems(config, items):
    """Files with slow tests run first (stable order otherwise): ``make test`` spreads whole
    files over workers, and the long ones starting first keeps one worker from finishing
    alone with a report run left to do."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("demo") / "study", seed=DEFAULT_SEED).root


@pytest.fixture(scope="session")
def demo_study(demo_dir) -> Study:
    """The demo study with every wave imported into its store."""
    study = Study.from_yaml(demo_dir / "study.yaml")
    study.import_waves()
    return study


@pytest.fixture(scope="module")
def psych_data():
    """The R psych fixtures' items, b3 mirrored back (psych_support.psych_items)."""
    from psych_support import psych_items

    return psych_items()
