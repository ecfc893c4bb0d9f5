"""A Helm chart's ``Chart.yaml`` and ``values.yaml`` (Helm's fixed names: chartutil
``ChartfileName``, ``ValuesfileName``), read as the values a template of the chart
sees: ``.Chart.AppVersion``/``.Chart.Version`` and ``.Values.a.b``. The model
(``stackaudit.model.helm``) resolves template expressions against them.

Helm reads values.yaml with sigs.k8s.io/yaml (go-yaml underneath, YAML 1.1 scalars)
into JSON types, so a number becomes a float64 that Go prints in its own notation
(``1e+06``); only string values are kept. A plain scalar that PyYAML calls a string but
go-yaml may read as a number or a boolean (``1e3``, ``y``) is not kept either."""

from __future__ import annotations

import posixpath
import re

from yaml.nodes import MappingNode, Node, ScalarNode

from stackaudit.extractors.yamlnodes import Walker, scalar
from stackaudit.facts.deploy import HelmChartFile
from stackaudit.source import SourceFile

CHART_FILE = "Chart.yaml"
VALUES_FILE = "values.yaml"

# A template reaches a value by field names (`.Values.image.tag`): Go identifiers.
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Plain scalars another YAML 1.1 reader may type as a number or a boolean.
_NOT_SURELY_STRING = re.compile(
    r"[-+]?(0[xob][0-9a-f_]+|[0-9][0-9_]*(\.[0-9_]*)?(e[-+]?[0-9]+)?"
    r"|\.[0-9_]+(e[-+]?[0-9]+)?|\.inf|\.nan)|y|n|~",
    re.IGNORECASE,
)
_STRING_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
# values.yaml nesting a template can reach, and values kept per file.
_MAX_DEPTH = 32
_MAX_VALUES = 20_000


def is_helm_chart_file(path: str) -> bool:
    return posixpath.basename(path) in (CHART_FILE, VALUES_FILE)


def helm_chart_file(source: SourceFile, walker: Walker, documents: list[Node]) -> HelmChartFile:
    """The record of a ``Chart.yaml`` or ``values.yaml``; a file of several documents
    or whose top is no mapping records nothing known (an empty one: no values)."""
    chart = posixpath.basename(source.path) == CHART_FILE
    if not documents and not chart:
        return HelmChartFile(source.path, "values", mappings=("",))
    if len(documents) != 1 or not isinstance(documents[0], MappingNode):
        return HelmChartFile(source.path, "chart" if chart else "values")
    if chart:
        strings = [
            (key, text)
            for key in ("appVersion", "version")
            if (text := _string(walker.get(documents[0], key))) is not None
        ]
        return HelmChartFile(source.path, "chart", tuple(strings))
    found = _Values(walker)
    found.visit("", documents[0], 0)
    if found.truncated:
        # Values past the bound would read as absent (empty) rather than unknown.
        return HelmChartFile(source.path, "values")
    return HelmChartFile(
        source.path, "values", tuple(found.strings), tuple(found.mappings), tuple(found.others)
    )


class _Values:
    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        self.strings: list[tuple[str, str]] = []
        self.mappings: list[str] = []
        self.others: list[str] = []
        self.truncated = False

    def visit(self, path: str, node: Node, depth: int) -> None:
        if len(self.strings) + len(self.mappings) + len(self.others) >= _MAX_VALUES:
            self.truncated = True
            return
        if isinstance(node, MappingNode) and depth < _MAX_DEPTH:
            self.mappings.append(path)
            for key, value in self.walker.items(node):
                if _FIELD.fullmatch(key):
                    self.visit(f"{path}.{key}" if path else key, value, depth + 1)
            return
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return  # null: as absent, for a template
        text = _string(node)
        if text is None:
            self.others.append(path)
        else:
            self.strings.append((path, text))


def _string(node: Node | None) -> str | None:
    """The scalar's text when every YAML 1.1 reader takes it for a string."""
    if not isinstance(node, ScalarNode) or node.tag != _STRING_TAG:
        return None
    if not node.style and _NOT_SURELY_STRING.fullmatch(node.value):  # plain: None or ""
        return None
    return scalar(node)
