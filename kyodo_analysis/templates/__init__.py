"""YAML templates shipped with the package: answer scales and the plan structure used by
``kyodo init``."""
