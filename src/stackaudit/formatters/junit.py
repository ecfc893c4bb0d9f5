"""JUnit XML: one test case per finding (a failure), or one passing case when clean,
so CI systems that only read JUnit show the findings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from stackaudit.engine import RunResult
from stackaudit.formatters.escape import xml_text


def render_junit(
    result: RunResult, *, color: bool = False, quiet: bool = False, **_: object
) -> str:
    failures = len(result.diagnostics)
    suite = ET.Element(
        "testsuite",
        {
            "name": "stackaudit",
            "tests": str(max(failures, 1)),
            "failures": str(failures),
            "errors": str(len(result.errors)),
        },
    )
    if not result.diagnostics:
        ET.SubElement(suite, "testcase", {"classname": "stackaudit", "name": "no findings"})
    for d in result.diagnostics:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": xml_text(d.span.path),
                "name": xml_text(f"{d.code} {d.name} at {d.span}"),
                "file": xml_text(d.span.path),
                "line": str(d.span.line),
            },
        )
        failure = ET.SubElement(
            case,
            "failure",
            {
                "message": xml_text(d.message),
                "type": d.severity.value,
            },
        )
        failure.text = xml_text(f"{d.span}: {d.message}") + (
            f"\nhelp: {xml_text(d.help)}" if d.help else ""
        )
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
