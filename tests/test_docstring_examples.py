"""The docstring examples on the demo study run and print what they say."""

from __future__ import annotations

import doctest

import pytest

from kyodo_analysis import paths
from kyodo_analysis.stats import design as design_module

EXAMPLES = [
    design_module.SurveyDesign,
    design_module._BaseDesign.mean,
    design_module._BaseDesign.proportion,
    design_module._BaseDesign.multi_response,
    design_module._BaseDesign.crosstab,
]


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: o.__qualname__)
def test_demo_examples(obj, demo_study, monkeypatch):
    # ka.open_study() in the examples opens the demo; here the session's copy of it.
    monkeypatch.setattr(paths, "demo_study_file", lambda: demo_study.path)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(obj, obj.__qualname__, globs={"SurveyDesign": design_module.SurveyDesign})
    assert tests and tests[0].examples, f"{obj.__qualname__} has no examples"
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


# Every example in kyodo_analysis.stats runs (none is skipped). They use the demo study:
# ``design`` is its FY2025 design before weighting and ``raked`` the same design weighted as
# its study.yaml says (the module docstrings and docs/architecture.md say so too).
STATS_MODULES = [
    "kyodo_analysis.stats.design",
    "kyodo_analysis.stats.replicate",
    "kyodo_analysis.stats.crosstab",
    "kyodo_analysis.stats.glm",
    "kyodo_analysis.stats.calibrated",
    "kyodo_analysis.stats.trends",
    "kyodo_analysis.stats.weighting",
    "kyodo_analysis.stats.weighting.rake",
    "kyodo_analysis.stats.weighting.poststratify",
    "kyodo_analysis.stats.weighting.calibrate",
    "kyodo_analysis.stats.weighting.trim",
    "kyodo_analysis.stats.reliability",
]


def _stats_examples() -> list[tuple[str, str]]:
    import importlib

    found = []
    for name in STATS_MODULES:
        module = importlib.import_module(name)
        for t in doctest.DocTestFinder().find(module, name):
            if t.examples and (t.name == name or t.name.startswith(name + ".")):
                found.append((name, t.name))
    return found


def test_no_stats_example_is_skipped():
    import importlib

    for name in STATS_MODULES:
        source = importlib.import_module(name).__file__
        assert "doctest: +SKIP" not in open(source, encoding="utf-8").read(), name


@pytest.mark.parametrize(("module", "name"), _stats_examples(), ids=lambda v: v)
def test_stats_examples(module, name, demo_study, monkeypatch):
    import importlib

    import kyodo_analysis as ka

    monkeypatch.setattr(paths, "demo_study_file", lambda: demo_study.path)
    mod = importlib.import_module(module)
    test = next(t for t in doctest.DocTestFinder().find(mod, module) if t.name == name)
    test.globs.update(
        ka=ka,
        design=demo_study.design(2025, weighted=False),
        raked=demo_study.design(2025),
    )
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0
