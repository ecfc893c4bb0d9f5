"""Where a Panel app decides who may use it (``Apps.authorization``), the checks of
``pn.state.user`` the Python extractor records, and how requests reach a server
(``Stack.public_way``)."""

from __future__ import annotations

import textwrap

from stackaudit.extractors.compose import extract_compose
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.python import extract_python
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.app import PanelUserCheck
from stackaudit.model.apps import python_dict_literal
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

EXTRACTORS = {
    "dockerfile": extract_dockerfile,
    "compose": extract_compose,
    "shell": extract_shell,
    "python": extract_python,
}
SERVE = 'CMD ["panel", "serve", "app.py", "--oauth-provider", "github"]\n'


def stack_of(*files: tuple[str, str, str]) -> Stack:
    facts: list[object] = []
    for kind, path, text in files:
        facts.extend(EXTRACTORS[kind](SourceFile(path, kind, textwrap.dedent(text))).facts)
    return Stack(facts)


def user_checks(code: str) -> list[str]:
    facts = extract_python(SourceFile("app.py", "python", textwrap.dedent(code))).facts
    return [f.text for f in facts if isinstance(f, PanelUserCheck)]


def test_comparisons_of_the_logged_in_user_are_checks() -> None:
    assert user_checks("""
        import panel as pn
        if pn.state.user not in {"alice"}:
            raise SystemExit
    """) == ['pn.state.user not in {"alice"}']
    assert user_checks("""
        from panel.io.state import state
        def view():
            email = state.user_info.get("email", "")
            if email.endswith("@example.com"):
                return "ok"
    """) == ['email.endswith("@example.com")']


def test_asking_whether_someone_logged_in_is_not_a_check() -> None:
    assert (
        user_checks("""
        import panel as pn
        if pn.state.user:
            print("hello")
        user = other.user
        if user in {"alice"}:
            pass
    """)
        == []
    )


def test_authorization_counts_below_the_server_files_only() -> None:
    callback = "import panel as pn\npn.config.authorize_callback = lambda info: True\n"
    stack = stack_of(
        ("dockerfile", "apps/a/Dockerfile", SERVE),
        ("dockerfile", "apps/b/Dockerfile", SERVE),
        ("python", "apps/a/access.py", callback),
    )
    found = {c.span.path: stack.apps.authorization(c) for c in stack.serve_commands}
    assert found["apps/a/Dockerfile"] is not None
    assert found["apps/b/Dockerfile"] is None


def test_a_callback_set_to_none_authorizes_no_one() -> None:
    stack = stack_of(
        ("dockerfile", "Dockerfile", SERVE),
        ("python", "app.py", "import panel as pn\npn.config.authorize_callback = None\n"),
    )
    assert [stack.apps.authorization(c) for c in stack.serve_commands] == [None]


def test_public_way_is_a_published_port_not_a_bare_image() -> None:
    compose = """
        services:
          dash:
            image: dash:1
            command: panel serve app.py --oauth-provider github
            ports: ["5006:5006"]
          quiet:
            image: dash:1
            command: panel serve app.py --oauth-provider github
    """
    stack = stack_of(("compose", "docker-compose.yml", compose))
    ways = {c.service.rsplit(":", 1)[-1]: stack.public_way(c) for c in stack.serve_commands}
    assert ways["dash"] is not None and "5006:5006" in ways["dash"].description
    assert ways["quiet"] is None


def test_extra_params_are_read_as_panel_reads_them() -> None:
    assert python_dict_literal("{'url': 'gitlab.example.com'}") == {"url": "gitlab.example.com"}
    assert python_dict_literal("$PARAMS") is None
    assert python_dict_literal("[1, 2]") is None
    assert python_dict_literal("{" + "'a': 'b', " * 2000 + "}") is None  # too long to read
