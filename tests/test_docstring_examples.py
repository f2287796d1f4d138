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
