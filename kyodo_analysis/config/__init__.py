"""The typed study configuration: study.yaml parsed once into validated objects.

:func:`load_study_config` reads and validates ``study.yaml``; :func:`json_schema` is what
``kyodo schema`` prints. The codebook (:mod:`kyodo_analysis.codebook`) and the indicator
registry (:mod:`kyodo_analysis.evaluation.indicators`) validate their own files with the same
error conventions (file, key path, value, expectation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kyodo_analysis.config.base import FiscalYear, Model, Slug, parse_document, read_yaml
from kyodo_analysis.config.study import (
    ActivityConfig,
    AttributeConfig,
    CollaborationConfig,
    DesignConfig,
    DisclosureConfig,
    DistrictLevelConfig,
    DistrictSeriesConfig,
    FieldworkConfig,
    HeadlineConfig,
    HeadlineFigure,
    PlanConfig,
    PlanMeasure,
    PlanPolicy,
    PopulationConfig,
    ReportConfig,
    ReportNotebook,
    SamplingListConfig,
    StudyConfig,
    TableFile,
    WaveConfig,
    WeightingConfig,
)

__all__ = [
    "ActivityConfig",
    "AttributeConfig",
    "CollaborationConfig",
    "DesignConfig",
    "DisclosureConfig",
    "DistrictLevelConfig",
    "DistrictSeriesConfig",
    "FieldworkConfig",
    "FiscalYear",
    "HeadlineConfig",
    "HeadlineFigure",
    "Model",
    "PlanConfig",
    "PlanMeasure",
    "PlanPolicy",
    "PopulationConfig",
    "ReportConfig",
    "ReportNotebook",
    "SamplingListConfig",
    "Slug",
    "StudyConfig",
    "TableFile",
    "WaveConfig",
    "WeightingConfig",
    "json_schema",
    "json_schema_text",
    "load_study_config",
    "parse_document",
]


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate ``study.yaml`` (ConfigError naming the file and key path)."""
    doc = read_yaml(path, what="study file")
    return parse_document(StudyConfig, doc, file=str(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of study.yaml (``kyodo schema``)."""
    schema = StudyConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kyodo_analysis study.yaml"
    return schema


def json_schema_text() -> str:
    """:func:`json_schema` as indented JSON text."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=2)
