from collections.abc import Iterator

from stackaudit.diagnostics import (
    Codemod,
    Confidence,
    Diagnostic,
    FixSafety,
    Related,
    SetKeyword,
    Severity,
    WrapCall,
)
from stackaudit.facts.python import TaintFlow
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind

_HELP = {
    "panel-html": "escape it with `html.escape(...)`, or pass `sanitize_html=True` to the "
    "HTML pane (Panel then cleans it with nh3)",
    "panel-markdown": "escape it with `html.escape(...)` (Panel's Markdown renderer lets raw "
    "HTML through), or show it in `pn.pane.Str`",
    "bokeh-div": "escape it with `html.escape(...)`, or pass `render_as_text=True` to the Div",
    "bokeh-customjs": "pass the value in `args=` and read it in the JavaScript, never "
    "format it into `code`",
    "tornado-write": "escape it with `tornado.escape.xhtml_escape(...)`, or render a "
    "template (Tornado templates autoescape)",
    "html-response": "escape it with `html.escape(...)`, or render a template with "
    "autoescape (`Jinja2Templates`)",
    "jinja2-render": "turn autoescape on (`Environment(autoescape=select_autoescape())`) "
    "and never build the template source from input",
}


def _confidence(hops: int) -> Confidence:
    if hops == 0:
        return Confidence.HIGH
    return Confidence.MEDIUM if hops == 1 else Confidence.LOW


class UserInputInHtml(Rule):
    """
    ## What it does
    Follows user input through a Python module to where it is rendered as HTML or run
    as JavaScript without escaping (cross-site scripting).

    Input: the value of a Panel or Bokeh text widget (`TextInput`, `TextAreaInput`,
    `AutocompleteInput`, `PasswordInput`: `.value`, `.value_input`, the `event.new` of
    `widget.param.watch(f, "value")`, the `new` of Bokeh's `on_change("value", f)`, the
    arguments `pn.bind(f, widget)` and `@pn.depends(widget)` pass), `pn.state.location.
    query_params`, `pn.state.session_args`, `pn.state.headers`/`cookies`, Bokeh's
    `session_context.request.arguments`, Tornado's `self.get_argument(s)` (and the
    query/body variants) and `self.request.body`/`arguments`, the `str`-typed or
    `Query()`/`Path()`/`Body()`/`Form()` parameters of a FastAPI route, and a Starlette
    `Request`'s `query_params`, `path_params`, `form()`, `body()`, `json()`.

    Rendered as HTML: `pn.pane.HTML(x)` and `.object = x` (not with
    `sanitize_html=True`), `pn.pane.Markdown(x)` and `.object = x`, a string given to
    `pn.panel()`, `pn.Column()`/`Row()`/`Card()` (Panel makes it a Markdown pane) or
    returned by a function bound with `pn.bind`/`@pn.depends`, Bokeh `Div(text=x)` and
    `.text = x` (not with `render_as_text=True`), `CustomJS(code=x)`, Tornado
    `self.write(x)`/`self.finish(x)` (unless the method sets a non-HTML content type),
    Starlette/FastAPI `HTMLResponse(x)` and the return value of a route with
    `response_class=HTMLResponse`, and Jinja2 templates without autoescape
    (`Template(...)`, `Environment()` without `autoescape`) rendering the input or built
    from it.

    Escaped: `html.escape`, `markupsafe.escape`, `bleach.clean`, `nh3.clean`,
    `tornado.escape.xhtml_escape`, `urllib.parse.quote`/`quote_plus`, `int()`,
    `float()`.

    The input is followed through assignments, f-strings, `%`, `.format`, `+`,
    containers and attributes, and into the module's own functions (up to three calls
    deep). Confidence: high when the input is read where it is rendered, medium through
    one call (a helper, a callback), low through more. Calls into other modules are not
    followed.

    ## Why is this bad?
    The browser runs whatever markup the input holds, in the app's origin: a
    `<img src=x onerror=...>` typed in a shared dashboard, or put in a link's query
    string, runs script as whoever opens it, with their session (Panel's and Bokeh's
    WebSocket, the app's cookies). Panel's HTML pane sets the text as the element's
    `innerHTML`; its Markdown renderer (markdown-it, preset `gfm-like`) passes raw
    HTML through; Bokeh's `Div` sets `innerHTML` unless `render_as_text`; Tornado
    answers `text/html` by default; Jinja2's `Template` and `Environment` do not
    autoescape by default.

    ## Example
    ```python
    import panel as pn
    query = pn.state.location.query_params.get("q", "")
    pn.pane.HTML(f"<p>Results for {query}</p>")
    ```

    ## Use instead
    ```python
    import html
    import panel as pn
    query = pn.state.location.query_params.get("q", "")
    pn.pane.HTML(f"<p>Results for {html.escape(query)}</p>")
    ```

    ## References
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/pane/markup.py#L83-L117
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/util/__init__.py#L55-L69
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/models/html.ts#L129-L131
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/pane/markup.py#L377-L380
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/pane/markup.py#L436-L442
    - https://github.com/executablebooks/markdown-it-py/blob/v4.0.0/markdown_it/presets/__init__.py#L20-L28
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/models/widgets/markups.py#L102-L118
    - https://github.com/bokeh/bokeh/blob/3.9.2/bokehjs/src/lib/models/widgets/div.ts
    - https://github.com/tornadoweb/tornado/blob/v6.5.0/tornado/web.py#L320-L329
    - https://github.com/encode/starlette/blob/1.0.0/starlette/responses.py#L178-L179
    - https://github.com/pallets/jinja/blob/3.1.6/src/jinja2/environment.py#L312
    - https://github.com/pallets/jinja/blob/3.1.6/src/jinja2/environment.py#L1186
    - https://cwe.mitre.org/data/definitions/79.html
    """

    code = "SA801"
    name = "user-input-in-html"
    severity = Severity.ERROR
    category = Category.INJECTION
    fix = FixSafety.UNSAFE
    applies_to = (FileKind.PYTHON,)
    cwe = 79
    examples = (
        Bad(
            "app.py",
            """
            import panel as pn
            query = pn.state.location.query_params.get("q", "")
            pn.pane.HTML(f"<p>Results for {query}</p>")  # expect: SA801
        """,
            fixed="""
            import panel as pn
            query = pn.state.location.query_params.get("q", "")
            pn.pane.HTML(f"<p>Results for {query}</p>", sanitize_html=True)
        """,
        ),
        Bad(
            "server.py",
            """
            import tornado.web

            class Hello(tornado.web.RequestHandler):
                def get(self):
                    name = self.get_argument("name")
                    self.write("<h1>Hello " + name + "</h1>")  # expect: SA801
        """,
            title="Tornado answers text/html unless told otherwise",
        ),
        Good(
            "app.py",
            """
            import html
            import panel as pn
            query = pn.state.location.query_params.get("q", "")
            pn.pane.HTML(f"<p>Results for {html.escape(query)}</p>")
        """,
        ),
        Good(
            "app.py",
            """
            import panel as pn
            text = pn.widgets.TextInput()
            pane = pn.pane.HTML("", sanitize_html=True)

            def update(event):
                pane.object = f"<b>{event.new}</b>"

            text.param.watch(update, "value")
        """,
            title="the pane sanitises what it is given",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        for flow in stack.of(TaintFlow):
            through = (
                f" through {' → '.join(f'`{name}()`' for name in flow.via)}" if flow.via else ""
            )
            yield self.report(
                flow.span,
                f"user input ({flow.source_label}) reaches {flow.sink_label}{through} "
                "unescaped: any markup in it is rendered in the viewer's browser",
                help=_HELP[flow.sink],
                fix_title="Escape the value",
                related=(Related(flow.source_span, f"the input: {flow.source_label}"),),
                confidence=_confidence(flow.hops),
                codemods=_fix(flow),
            )


def _fix(flow: TaintFlow) -> tuple[Codemod, ...]:
    """An HTML pane is told to sanitize (nh3 keeps harmless markup); any other
    HTML sink gets the input escaped where it enters the sink, when the value there is
    the input itself (escaping `"<h1>" + name` would escape the page's own markup too:
    no fix then). JavaScript (`CustomJS`) is not HTML: escaping would not make it safe,
    so it gets no fix."""
    if flow.sink == "bokeh-customjs":
        return ()
    if flow.sink == "panel-html" and flow.call is not None:
        return (SetKeyword(flow.call, "sanitize_html", "True"),)
    if flow.value_is_input:
        return (WrapCall(flow.value, "html", "escape"),)
    return ()
