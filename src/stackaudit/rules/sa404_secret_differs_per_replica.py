from collections import defaultdict
from collections.abc import Iterator

from stackaudit.bounds import MAX_RELATED
from stackaudit.diagnostics import Diagnostic, Related, Severity
from stackaudit.facts.serve import GeneratedSecret, ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class SecretDiffersPerReplica(Rule):
    """
    ## What it does
    Flags a cookie or session secret that a shell generates when the server starts
    (`$(openssl rand ...)`, `$(uuidgen)`, `$(python -c "import secrets; ...")`,
    `$(head -c 32 /dev/urandom | base64)`, `$RANDOM`) when several instances of the
    same app run with it, each generating its own: today, one file that starts the
    same app more than once on different ports, each command making its own secret
    (commands on the same port are taken as alternatives, such as the branches of an
    `if`). Replicas (Compose `deploy.replicas`, Kubernetes `replicas`) join the rule
    once the stack records them.

    For Bokeh/Panel the secrets are `--cookie-secret`, `PANEL_COOKIE_SECRET`,
    `BOKEH_COOKIE_SECRET`, `BOKEH_SECRET_KEY` and `--oauth-encryption-key` /
    `PANEL_OAUTH_ENCRYPTION`; for other servers, variables whose name holds `SECRET`
    or ends in `_KEY`.

    ## Why is this bad?
    Tornado signs its secure cookies (Panel's login cookies) with `cookie_secret`, Bokeh
    signs session ids with `BOKEH_SECRET_KEY`, Panel encrypts OAuth tokens with its
    encryption key. Behind a load balancer a client's requests reach different
    instances: with a different secret in each, a cookie or token issued by one is
    rejected by the others, and users are logged out or refused at random.

    Processes forked by one server (`--num-procs`, gunicorn or uvicorn workers) inherit
    the one value the shell generated, so they are not affected. A `$(...)` written in
    Docker `ENV`, an exec-form `CMD`, Compose or Kubernetes is not run by any shell: it
    stays a constant string, which is a different problem.

    ## Example
    ```
    panel serve app.py --port 5006 --cookie-secret "$(openssl rand -hex 32)" &
    panel serve app.py --port 5007 --cookie-secret "$(openssl rand -hex 32)" &
    ```

    ## Use instead
    Generate the secret once, store it in the platform's secret store, and give the
    same value to every instance (`--cookie-secret "$COOKIE_SECRET"`).

    ## References
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/web.py#L884-L921
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/command/subcommands/serve.py#L878-L900
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L727-L736
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/auth.py#L1017-L1019
    - https://docs.bokeh.org/en/latest/docs/reference/settings.html
    """

    code = "SA404"
    name = "secret-differs-per-replica"
    severity = Severity.WARNING
    category = Category.SCALING
    applies_to = (FileKind.COMMAND_LINE, FileKind.COMPOSE, FileKind.STACK)
    examples = (
        Bad(
            "start.sh",
            """
            #!/bin/sh
            panel serve app.py --port 5006 --cookie-secret "$(openssl rand -hex 32)" &  # expect: SA404
            panel serve app.py --port 5007 --cookie-secret "$(openssl rand -hex 32)" &  # expect: SA404
            wait
        """,
        ),
        Bad(
            "run.sh",
            """
            #!/bin/sh
            BOKEH_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') bokeh serve app.py --port 5006 --session-ids signed &  # expect: SA404
            BOKEH_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') bokeh serve app.py --port 5007 --session-ids signed &  # expect: SA404
            wait
        """,
        ),
        Good(
            "start.sh",
            """
            #!/bin/sh
            export PANEL_COOKIE_SECRET="$(openssl rand -hex 32)"
            panel serve app.py --port 5006 &
            panel serve app.py --port 5007 &
            wait
        """,
            title="one secret, generated once, shared by both instances",
        ),
        Good(
            "entrypoint.sh",
            """
            #!/bin/sh
            exec panel serve app.py --num-procs 4 --cookie-secret "$(openssl rand -hex 32)"
        """,
            title="forked processes inherit the one secret",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        instances: dict[tuple[str, str, tuple[str, ...]], dict[ServeCommand, None]] = defaultdict(
            dict
        )
        for command in stack.serve_commands:
            key = (command.span.path, command.tool, tuple(w.text for w in command.positionals))
            instances[key][command] = None
        for members in instances.values():
            group = list(members)
            ports = [_port(c) for c in group]
            for index, command in enumerate(group):
                replicas = stack.deploy.replicas_of(command)
                if replicas is not None and replicas > 1:
                    yield from self._replicas(command, replicas)
                    continue
                if not command.generated_secrets():
                    continue
                # Two commands on the same port cannot both run on one host: they are
                # alternatives (the branches of an `if`), not instances.
                others = [c for i, c in enumerate(group) if i != index and ports[i] != ports[index]]
                if others:
                    yield from self._several_commands(command, others)

    def _several_commands(
        self, command: ServeCommand, others: list[ServeCommand]
    ) -> Iterator[Diagnostic]:
        shared = {s.value.span for other in others for s in other.generated_secrets()}
        for secret in command.generated_secrets():
            if secret.value.span in shared:
                continue  # generated once (an `export` before both) and inherited by both
            lines = ", ".join(str(c.span.line) for c in others[:MAX_RELATED])
            if len(others) > MAX_RELATED:
                lines += f" and {len(others) - MAX_RELATED:,} more"
            yield self.report(
                secret.span,
                f"{command.label}: {_what(secret)} is generated by `{secret.generator}` each "
                f"time this command starts, and this file starts the same app "
                f"{len(others) + 1} times (also line {lines}): each instance signs with its "
                "own secret, so cookies and tokens from one are rejected by the others",
                help=f"generate the secret once (`{secret.generator}` before starting "
                f"them, or a stored secret) and pass that value as {_what(secret)} to every "
                "instance",
                fix_title="Share one secret between instances",
                related=[
                    Related(other.span, "another instance of the same app") for other in others
                ],
            )

    def _replicas(self, command: ServeCommand, replicas: int) -> Iterator[Diagnostic]:
        for secret in command.generated_secrets():
            yield self.report(
                secret.span,
                f"{command.label}: {_what(secret)} is generated by `{secret.generator}` when "
                f"the container starts, and {replicas} replicas run it: each signs with its "
                "own secret, so cookies and tokens from one are rejected by the others",
                help=f"generate the secret once, store it as a secret, and give every "
                f"replica that value as {_what(secret)} (instead of `{secret.generator}`)",
                fix_title="Share one secret between replicas",
            )


def _what(secret: GeneratedSecret) -> str:
    return f"`{secret.setting}`" if secret.setting.startswith("-") else secret.setting


def _port(command: ServeCommand) -> str:
    if command.is_bokeh_family:
        return command.listen_port()
    binds = command.values("bind") + command.values("binds")
    port = command.value("port")
    return " ".join(w.text for w in binds) if binds else (port.text if port else "")
