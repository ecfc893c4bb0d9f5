from collections.abc import Iterator

from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.facts.python import ProcessLocalState, PubSubClientImport
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.rules.base import Bad, Good, Rule
from stackaudit.rules.taxonomy import Category, FileKind


class ProcessStateSeveralWorkers(Rule):
    """
    ## What it does
    Flags state that one process keeps in memory for all its requests when the
    deployment runs the app in several processes:

    - a WebSocket connection registry or broadcast list: a module-level `list`/`set`/
      `dict`, a class attribute, or an attribute of an instance created at module level
      (the FastAPI docs' `manager = ConnectionManager()`), that a WebSocket endpoint adds
      its socket to (`@app.websocket`, a `WebSocketRoute`, `self` in a Tornado
      `WebSocketHandler`) and that another place iterates over to send to every client;
    - data a route writes into a module-level dict for other requests to read
      (`sessions[token] = user` in `/login`, read by a dependency).

    The processes are those of the server that imports the module (`uvicorn main:app
    --workers 4`, `gunicorn -w 4`, `WEB_CONCURRENCY`, `fastapi run --workers`, `panel
    serve --plugins chat --num-procs 0`, a `pn.serve(..., num_procs=0)` or
    `uvicorn.run(..., workers=4)` written in the module) and the replicas of the compose
    service (`deploy.replicas`, `scale`) or Kubernetes workload that runs it. When no
    server names the module, the servers of a FastAPI/Starlette app imported from a
    directory that holds it (`app/ws/manager.py` beside `app/main.py`) are taken, with
    medium confidence. A worker count known only at run time (`--workers
    $WEB_CONCURRENCY`) is not judged. A module that imports a publish/subscribe client
    (Redis, `broadcaster`, NATS, Kafka...) may relay messages between processes and is
    left alone, as is a module beside an app whose tree imports one.

    ## Why is this bad?
    Every worker is a separate process with its own copy of the module: uvicorn starts
    its workers with `multiprocessing`'s spawn context, and each imports the app anew
    (so does hypercorn); gunicorn forks its workers; Bokeh and Panel fork through Tornado's
    `fork_processes`; replicas are separate containers. A connection registered in one
    process is invisible to the others, so a broadcast reaches only the clients that
    happen to be connected to the same worker, and a session stored by the worker that
    served `/login` is unknown to the worker that serves the next request: users are
    logged out or miss messages at random, and nothing reports an error.

    ## Example
    ```python
    class ConnectionManager:
        def __init__(self):
            self.active_connections: list[WebSocket] = []
        ...

    manager = ConnectionManager()
    ```
    served by `uvicorn main:app --workers 4`.

    ## Use instead
    Relay messages through a shared broker (Redis pub/sub, the `broadcaster` package)
    and keep sessions in a shared store (Redis, a database, signed cookies), or run a
    single worker and scale with several instances behind a proxy with sticky routing.

    ## References
    - https://fastapi.tiangolo.com/advanced/websockets/#handling-disconnections-and-multiple-clients
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/main.py#L625-L641
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/_subprocess.py#L18
    - https://github.com/Kludex/uvicorn/blob/0.55.0/uvicorn/config.py#L357-L358
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/config.py#L755-L772
    - https://github.com/benoitc/gunicorn/blob/27.0.1/gunicorn/arbiter.py#L726-L733
    - https://github.com/fastapi/fastapi-cli/blob/0.0.34/src/fastapi_cli/cli.py#L285-L299
    - https://github.com/pgjones/hypercorn/blob/0.18.0/src/hypercorn/run.py#L45-L53
    - https://github.com/bokeh/bokeh/blob/3.9.2/src/bokeh/server/server.py#L447-L454
    - https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/process.py#L114-L120
    - https://github.com/holoviz/panel/blob/v1.9.4/panel/command/serve.py#L630-L645
    - https://github.com/encode/broadcaster
    """

    code = "SA405"
    name = "process-state-several-workers"
    severity = Severity.WARNING
    category = Category.SCALING
    applies_to = (FileKind.PYTHON, FileKind.STACK)
    examples = (
        Bad(
            "main.py",
            """
            from fastapi import FastAPI, WebSocket

            app = FastAPI()


            class ConnectionManager:
                def __init__(self):
                    self.active_connections: list[WebSocket] = []  # expect: SA405

                async def connect(self, websocket: WebSocket):
                    await websocket.accept()
                    self.active_connections.append(websocket)

                async def broadcast(self, message: str):
                    for connection in self.active_connections:
                        await connection.send_text(message)


            manager = ConnectionManager()


            @app.websocket("/ws")
            async def chat(websocket: WebSocket):
                await manager.connect(websocket)
                while True:
                    await manager.broadcast(await websocket.receive_text())
        """,
            context={
                "Dockerfile": """
                    FROM python:3.12-slim
                    CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--workers", "4"]
                """
            },
        ),
        Bad(
            "main.py",
            """
            from fastapi import Depends, FastAPI

            app = FastAPI()
            sessions: dict[str, str] = {}  # expect: SA405


            @app.post("/login")
            def login(token: str, user: str):
                sessions[token] = user


            def current_user(token: str):
                return sessions.get(token)


            @app.get("/me")
            def me(user: str = Depends(current_user)):
                return user
        """,
            context={"Procfile": "web: gunicorn -w 4 -k uvicorn.workers.UvicornWorker main:app"},
            title="sessions kept in a dict, gunicorn workers",
        ),
        Good(
            "main.py",
            """
            from broadcaster import Broadcast
            from fastapi import FastAPI, WebSocket

            broadcast = Broadcast("redis://redis:6379")
            app = FastAPI(on_startup=[broadcast.connect], on_shutdown=[broadcast.disconnect])


            @app.websocket("/ws")
            async def chat(websocket: WebSocket):
                await websocket.accept()
                async with broadcast.subscribe(channel="chat") as subscriber:
                    async for event in subscriber:
                        await websocket.send_text(event.message)
        """,
            title="every worker subscribes to one Redis channel",
        ),
    )

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        # Modules that may relay between processes (an app beside a registry may do so).
        brokers = {found.span.path for found in stack.of(PubSubClientImport)}
        for state in stack.of(ProcessLocalState):
            if state.broker:
                continue
            # The servers that name the module decide; without one, an app of the same
            # import root probably imports it.
            commands = stack.servers_running_module(state.span.path)
            direct = bool(commands)
            if not direct:
                commands = [
                    c
                    for c in stack.servers_below_import_root(state.span.path)
                    if not any(b.startswith(r) for r in stack.apps.import_roots(c) for b in brokers)
                ]
            for command in commands:
                found = self._several(stack, command)
                if found is not None:
                    yield self._report(state, command, *found, direct=direct)
                    break

    def _several(self, stack: Stack, command: ServeCommand) -> tuple[str, Span, str] | None:
        """How the deployment runs ``command`` in several processes: a description, where
        it is set, and what each copy is called; None for one process or a count known
        only at run time."""
        processes = command.worker_processes()
        if processes is not None and not processes.symbolic:
            return (
                f"{command.label} runs {processes.description}",
                processes.span,
                "process",
            )
        setting = stack.deploy.replicas_setting(command)
        if setting is not None:
            replicas, unit = setting
            count = replicas.count
            if count is not None and count > 1:
                return (
                    f"{unit} runs {count} replicas of `{command.label}`",
                    replicas.value.span,
                    "replica",
                )
        return None

    def _report(
        self,
        state: ProcessLocalState,
        command: ServeCommand,
        how: str,
        where: Span,
        copy: str,
        *,
        direct: bool,
    ) -> Diagnostic:
        if state.kind == "connections":
            message = (
                f"`{state.name}` keeps WebSocket connections in one process's memory (added "
                f"at line {state.added.line}, sent to at line {state.used.line}), and {how}: "
                f"each {copy} has its own registry, so a broadcast reaches only the clients "
                f"connected to the same {copy}"
            )
            help_text = (
                "relay messages through a shared broker (Redis pub/sub, the `broadcaster` "
                "package) that every process subscribes to, or run one worker and scale "
                "with instances behind sticky routing"
            )
            labels = ("a WebSocket is added here", "a loop sends to each here")
        else:
            message = (
                f"the module-level dict `{state.name}` holds data a route writes (line "
                f"{state.added.line}) for other requests to read (line {state.used.line}), "
                f"and {how}: a request served by another {copy} does not find it"
            )
            help_text = (
                "keep the data in a shared store (Redis, a database, a signed cookie), or "
                "run one worker"
            )
            labels = ("a route writes it here", "another function reads it here")
        return self.report(
            state.span,
            message,
            help=help_text,
            fix_title="Share the state between processes",
            related=[
                Related(state.added, labels[0]),
                Related(state.used, labels[1]),
                Related(where, "worker processes" if copy == "process" else "replicas"),
                Related(
                    command.span,
                    "the server that imports the module"
                    if direct
                    else "the server of an app beside the module (which may import it)",
                ),
            ],
            confidence=Confidence.MEDIUM if command.conditional or not direct else None,
        )
