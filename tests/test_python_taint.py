"""The taint engine on its own: what it follows, what stops it, and its bounds on
hostile modules."""

from __future__ import annotations

import ast
import textwrap
import time

from stackaudit.extractors.python_taint import flows
from stackaudit.facts.python import TaintFlow
from stackaudit.source import SourceFile


def _flows(code: str) -> list[TaintFlow]:
    text = textwrap.dedent(code)
    return flows(SourceFile("app.py", "python", text), text, ast.parse(text))


def _lines(code: str) -> list[tuple[int, int]]:
    return sorted((f.span.line, f.hops) for f in _flows(code))


def test_direct_flow_carries_source_sink_and_the_exact_argument() -> None:
    [flow] = _flows(
        """
        import panel as pn
        q = pn.state.location.query_params["q"]
        pn.pane.HTML("<p>" + q + "</p>", width=300)
        """
    )
    assert flow.sink == "panel-html"
    assert (flow.source_span.line, flow.source_span.column) == (3, 5)
    # The value to escape is the argument, the call is where sanitize_html would go.
    assert (flow.value.line, flow.value.column, flow.value.end_column) == (4, 14, 32)
    assert flow.call is not None and flow.call.end_column == 44
    assert flow.hops == 0


def test_reassignment_with_an_escaped_value_clears_the_taint() -> None:
    assert not _flows(
        """
        import html
        import panel as pn
        q = pn.state.session_args.get("q")
        q = html.escape(q)
        pn.pane.HTML(f"<p>{q}</p>")
        """
    )


def test_a_branch_that_keeps_the_input_is_enough() -> None:
    assert _lines(
        """
        import html
        import panel as pn
        q = pn.state.session_args.get("q")
        if len(q) > 3:
            q = html.escape(q)
        pn.pane.HTML(f"<p>{q}</p>")
        """
    ) == [(7, 0)]


def test_containers_attributes_and_format() -> None:
    assert _lines(
        """
        import panel as pn
        class View:
            def __init__(self):
                self.text = pn.widgets.TextInput()
                self.div = pn.pane.HTML("")
            def refresh(self):
                parts = []
                parts.append("x")
                data = {"name": self.text.value}
                self.label = "<b>%s</b>" % data["name"]
                self.div.object = "{}".format(self.label)
        """
    ) == [(12, 0)]


def test_helpers_in_the_module_count_as_hops() -> None:
    assert _lines(
        """
        import panel as pn
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse
        app = FastAPI()
        def inner(x):
            return "<i>" + x + "</i>"
        def outer(x):
            return HTMLResponse(inner(x))
        @app.get("/")
        def route(name: str):
            return outer(name)
        """
    ) == [(9, 2)]


def test_helper_that_drops_its_argument_returns_clean_data() -> None:
    assert not _flows(
        """
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse
        app = FastAPI()
        def header(x):
            return "<h1>Title</h1>"
        @app.get("/")
        def route(name: str):
            return HTMLResponse(header(name))
        """
    )


def test_unknown_calls_do_not_carry_taint() -> None:
    assert not _flows(
        """
        import panel as pn
        from mylib import lookup
        q = pn.state.session_args.get("q")
        pn.pane.HTML(lookup(q))
        """
    )


def test_recursive_helpers_terminate() -> None:
    assert _lines(
        """
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse
        app = FastAPI()
        def a(x):
            return b(x) + HTMLResponse(x).body
        def b(x):
            return a(x)
        @app.get("/")
        def route(name: str):
            return a(name)
        """
    ) == [(6, 1)]


def test_call_depth_is_bounded() -> None:
    chain = "\n".join(f"def f{i}(x):\n    return f{i + 1}(x)" for i in range(10))
    code = f"""
import panel as pn
{chain}
def f10(x):
    return pn.pane.HTML(x)
f0(pn.state.session_args["q"])
f8(pn.state.session_args["q"])
"""
    found = _flows(code)
    # f8, f9, f10: three calls to the sink; the chain from f0 is too deep to follow.
    assert [f.hops for f in found] == [3]


def test_other_widgets_and_other_parameters_are_not_input() -> None:
    assert not _flows(
        """
        import panel as pn
        slider = pn.widgets.IntSlider()
        text = pn.widgets.TextInput()
        pane = pn.pane.HTML("")
        def show(event):
            pane.object = f"{event.new}"
        slider.param.watch(show, "value")
        text.param.watch(show, "disabled")
        """
    )


def test_a_long_assignment_chain_finishes_quickly() -> None:
    lines = ["import panel as pn", "x0 = pn.state.session_args['q']"]
    lines += [f"x{i} = x{i - 1} + 'a'" for i in range(1, 5000)]
    lines += ["pn.pane.HTML(x4999)"]
    start = time.perf_counter()
    found = _flows("\n".join(lines))
    assert time.perf_counter() - start < 2.0
    # The chain is longer than one analysis may take: the walk stops, no finding made up.
    assert len(found) <= 1


def test_deeply_nested_loops_and_branches_finish_quickly() -> None:
    body = "pn.pane.HTML(q)\n"
    for depth in range(40):
        body = textwrap.indent(body, "    ")
        body = ("for i in range(3):\n" if depth % 2 else "if q:\n") + body
    code = "import panel as pn\nq = pn.state.session_args['q']\n" + body
    start = time.perf_counter()
    found = _flows(code)
    assert time.perf_counter() - start < 2.0
    assert [f.span.line for f in found] == [43]


def test_deeply_nested_expression_is_no_traceback() -> None:
    code = (
        "import panel as pn\nq = pn.state.session_args['q']\npn.pane.HTML("
        + "(" * 90
        + "q"
        + ")" * 90
        + ")\n"
    )
    assert isinstance(_flows(code), list)


def test_many_functions_share_the_module_budget() -> None:
    functions = "\n".join(
        f"def f{i}(x):\n    y = x\n    return pn.pane.HTML(f{i + 1}(y))" for i in range(2000)
    )
    code = f"import panel as pn\n{functions}\ndef f2000(x):\n    return x\nf0(pn.state.session_args['q'])\n"
    start = time.perf_counter()
    _flows(code)
    assert time.perf_counter() - start < 3.0
