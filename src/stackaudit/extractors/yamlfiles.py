"""YAML deployment files (compose, Kubernetes, CI): loaded as node trees, safely."""

from __future__ import annotations

import yaml

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import ParseProblem
from stackaudit.source import SourceFile

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def extract_yaml(source: SourceFile) -> Extraction:
    result = Extraction()
    try:
        for _ in yaml.compose_all(source.text, Loader=Loader):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        result.problems.append(
            ParseProblem(Span(source.path, line, column), f"invalid YAML: {reason}")
        )
    except yaml.YAMLError as exc:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), f"invalid YAML: {exc}"))
    return result
