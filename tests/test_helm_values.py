"""A Helm template's image read with its chart's Chart.yaml and values.yaml."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackaudit.diagnostics import Span
from stackaudit.discovery import classify_content, classify_name
from stackaudit.extractors.yamlcommands import extract_yaml_commands
from stackaudit.facts.deploy import HelmChartFile, ImageRef, parse_image
from stackaudit.model.helm import HelmChart, HelmCharts, Unknown, evaluate, render
from stackaudit.source import SourceFile

CHART = """\
apiVersion: v2
name: board
version: 0.3.0
appVersion: "2.1"
"""

VALUES = """\
image:
  repository: registry.example.com/team/board
  tag: ""
  pullPolicy: IfNotPresent
  digest: null
replicaCount: 3
float_tag: 1.10
plain_number: 1e3
list: [a, b]
"""


def chart_file(path: str, text: str) -> HelmChartFile:
    facts = extract_yaml_commands(SourceFile(path, "yaml", textwrap.dedent(text))).facts
    [record] = [fact for fact in facts if isinstance(fact, HelmChartFile)]
    return record


def charts(chart: str = CHART, values: str = VALUES, root: str = "helm/board") -> HelmCharts:
    prefix = f"{root}/" if root else ""
    return HelmCharts(
        [chart_file(f"{prefix}Chart.yaml", chart), chart_file(f"{prefix}values.yaml", values)]
    )


def board() -> HelmChart:
    found = charts().chart_of("helm/board/templates/deployment.yaml")
    assert found is not None
    return found


def test_values_are_read_as_templates_see_them() -> None:
    values = chart_file("helm/board/values.yaml", VALUES)
    assert dict(values.strings) == {
        "image.repository": "registry.example.com/team/board",
        "image.tag": "",
        "image.pullPolicy": "IfNotPresent",
    }
    assert set(values.mappings) == {"", "image"}
    # Numbers and lists are present but not rendered here; a null is as absent.
    assert set(values.others) == {"replicaCount", "float_tag", "plain_number", "list"}
    chart = chart_file("helm/board/Chart.yaml", CHART)
    assert dict(chart.strings) == {"appVersion": "2.1", "version": "0.3.0"}


def test_chart_files_stay_yaml_whatever_they_hold() -> None:
    head = b"apiVersion: v2\nkind: thing\nname: board\n"
    for name in ("helm/board/Chart.yaml", "helm/board/values.yaml"):
        assert classify_content(name, head, classify_name(name)) == "yaml"
    assert classify_content("k8s/app.yaml", head, "yaml") == "kubernetes"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (".Values.image.repository", "registry.example.com/team/board"),
        (".Values.image.tag | default .Chart.AppVersion", "2.1"),
        ('.Values.image.pullPolicy | default "Always"', "IfNotPresent"),
        ('default "v1" .Values.image.missing', "v1"),
        ('default "v1" .Values.image.digest', "v1"),  # null: empty
        (".Chart.Version", "0.3.0"),
        (".Values.image.repository | quote", '"registry.example.com/team/board"'),
        (
            'printf "%s:%s" .Values.image.repository .Chart.AppVersion',
            "registry.example.com/team/board:2.1",
        ),
        (
            'printf "%s:%v" .Values.image.repository "x" | quote',
            '"registry.example.com/team/board:x"',
        ),
        ("`raw` | default .Chart.AppVersion", "raw"),
    ],
)
def test_simple_actions_are_evaluated(action: str, expected: str) -> None:
    assert evaluate(action, board()) == expected


@pytest.mark.parametrize(
    "action",
    [
        ".Values.replicaCount",  # a number: Go's float64 notation, not reproduced
        '.Values.float_tag | default "x"',
        ".Values.nope.tag",  # a field of an absent value fails the render
        ".Values.image.repository.more",  # a field of a string
        ".Release.Name",
        ".Chart.Name",
        'include "board.image" .',
        "$.Values.image.repository",
        "(.Values.image.repository)",
        'printf "%d" .Values.image.repository',
        'printf "%s:%s" .Values.image.repository',  # a missing operand
        'printf "%s" .Values.image.repository .Chart.Version',  # an extra one
        'printf "%s" .Values.image.missing',  # nil: `%!s(<nil>)`
        '"a\\"b"',
        ".Values.image.repository |",
        "default",
        "",
    ],
)
def test_other_actions_stay_unknown(action: str) -> None:
    with pytest.raises(Unknown):
        evaluate(action, board())


def test_absent_key_renders_empty_and_unknown_actions_are_kept() -> None:
    chart = board()
    assert render("{{ .Values.image.missing }}app", chart) == "app"
    for spaced in ("{{- .Values.image.repository -}}", "{{.Values.image.repository }}"):
        assert render(spaced, chart) == "registry.example.com/team/board"
    assert render("{{-3}}", chart) == "{{-3}}"  # the number -3, not a trim marker
    kept = '{{ .Values.image.repository }}:{{ include "tag" . }}'
    assert render(kept, chart) == 'registry.example.com/team/board:{{ include "tag" . }}'
    # The only action of the scalar, quoted: YAML reads the rendered quotes as its own.
    assert render("{{ .Values.image.repository | quote }}", chart) == (
        "registry.example.com/team/board"
    )
    # Quotes in the middle of a reference would not be YAML's: left unknown.
    assert render("x/{{ .Values.image.tag | quote }}", chart) == "x/{{ .Values.image.tag | quote }}"


def image(text: str, path: str) -> ImageRef:
    return parse_image(text, Span(path, 1), "{{" in text)


def test_image_resolved_only_in_the_charts_templates() -> None:
    index = charts()
    text = "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
    resolved = index.resolve_image(image(text, "helm/board/templates/deployment.yaml"))
    assert (resolved.text, resolved.tag, resolved.symbolic) == (
        "registry.example.com/team/board:2.1",
        "2.1",
        False,
    )
    # Deeper under templates/ is still the chart's; beside it, not rendered by Helm.
    assert not index.resolve_image(image(text, "helm/board/templates/web/d.yaml")).symbolic
    assert index.resolve_image(image(text, "helm/board/other/d.yaml")).text == text
    assert index.resolve_image(image(text, "elsewhere/templates/d.yaml")).text == text


def test_subchart_values_are_not_taken_alone() -> None:
    parent = [
        chart_file("site/Chart.yaml", CHART),
        chart_file("site/values.yaml", "board:\n  image:\n    repository: other\n"),
    ]
    child = [
        chart_file("site/charts/board/Chart.yaml", CHART),
        chart_file("site/charts/board/values.yaml", VALUES),
    ]
    index = HelmCharts([*parent, *child])
    assert index.chart_of("site/charts/board/templates/d.yaml") is None
    assert index.chart_of("site/templates/d.yaml") is not None


def test_values_without_chart_yaml_make_no_chart() -> None:
    index = HelmCharts([chart_file("helm/board/values.yaml", VALUES)])
    assert index.chart_of("helm/board/templates/d.yaml") is None


def test_chart_at_the_scanned_root() -> None:
    index = charts(root="")
    assert index.chart_of("templates/d.yaml") is not None
    assert index.chart_of("src/templates/d.yaml") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}-|."`$%sv() abcVvaluesimgChrtApVrion\\', max_size=80))
def test_any_text_renders_without_error(text: str) -> None:
    rendered = render(text, board())
    assert isinstance(rendered, str)


def test_values_past_the_bound_are_unknown_not_absent() -> None:
    many = "".join(f"k{i}: v\n" for i in range(20_001))
    record = chart_file("helm/board/values.yaml", many)
    assert (record.strings, record.mappings) == ((), ())
