"""What SA405 rests on: the state one process keeps for all its requests
(``python_state``), how many processes a server command runs
(``ServeCommand.worker_processes``), and which servers hold a module in memory
(``Stack.servers_running_module``)."""

from __future__ import annotations

import textwrap

import pytest

from stackaudit.extractors.compose import extract_compose
from stackaudit.extractors.dockerfile import extract_dockerfile
from stackaudit.extractors.python import extract_python
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.python import ProcessLocalState
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.stack import Stack
from stackaudit.source import SourceFile

EXTRACTORS = {
    "dockerfile": extract_dockerfile,
    "compose": extract_compose,
    "shell": extract_shell,
    "python": extract_python,
}


def state(code: str) -> list[tuple[str, str, int, int, int]]:
    result = extract_python(SourceFile("main.py", "python", textwrap.dedent(code)))
    assert result.problems == []
    return [
        (f.kind, f.name, f.span.line, f.added.line, f.used.line)
        for f in result.facts
        if isinstance(f, ProcessLocalState)
    ]


def command(script: str) -> ServeCommand:
    source = SourceFile("start.sh", "shell", "#!/bin/sh\n" + script)
    found = [f for f in extract_shell(source).facts if isinstance(f, ServeCommand)]
    assert len(found) == 1, found
    return found[0]


def stack_of(*files: tuple[str, str, str]) -> Stack:
    facts: list[object] = []
    for kind, path, text in files:
        facts.extend(EXTRACTORS[kind](SourceFile(path, kind, textwrap.dedent(text))).facts)
    return Stack(facts)


# -- state kept in one process -------------------------------------------------------------

HEADER = """\
from fastapi import FastAPI, WebSocket
app = FastAPI()
"""


def test_module_list_added_to_by_an_endpoint_and_iterated_to_send() -> None:
    code = HEADER + textwrap.dedent("""\
        clients: list[WebSocket] = []

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            clients.append(websocket)

        async def broadcast(text):
            for client in list(clients):
                await client.send_text(text)
        """)
    assert state(code) == [("connections", "clients", 3, 7, 11)]


def test_dict_of_sockets_items_and_comprehension() -> None:
    code = HEADER + textwrap.dedent("""\
        peers = dict()

        @app.websocket("/ws/{name}")
        async def join(ws, name: str):
            peers[name] = ws
            await asyncio.gather(*[p.send_json({}) for _, p in peers.items()])
        """)
    assert state(code) == [("connections", "peers", 3, 7, 8)]


def test_tornado_class_attribute_through_cls() -> None:
    code = """\
        import tornado.websocket

        class Base(tornado.websocket.WebSocketHandler):
            pass

        class Chat(Base):
            waiters = set()

            def open(self):
                Chat.waiters.add(self)

            @classmethod
            def send_updates(cls, chat):
                for waiter in cls.waiters:
                    waiter.write_message(chat)
        """
    assert state(code) == [("connections", "Chat.waiters", 7, 10, 15)]


def test_no_sending_loop_no_registry() -> None:
    code = HEADER + textwrap.dedent("""\
        clients = set()

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            clients.add(websocket)
            await websocket.send_text(str(len(clients)))
        """)
    assert state(code) == []


def test_local_and_shadowing_names_are_not_the_module_state() -> None:
    code = HEADER + textwrap.dedent("""\
        clients = []

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            clients = []
            clients.append(websocket)
            for client in clients:
                await client.send_text("hi")
        """)
    assert state(code) == []
    rebound = HEADER + textwrap.dedent("""\
        clients = []
        clients = load()

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            clients.append(websocket)
            for client in clients:
                await client.send_text("hi")
        """)
    assert state(rebound) == []


def test_instance_attributes_need_a_module_level_instance() -> None:
    manager = """\
        from fastapi import WebSocket

        class Manager:
            def __init__(self):
                self.sockets = []

            def connect(self, websocket: WebSocket):
                self.sockets.append(websocket)

            async def broadcast(self, text):
                for socket in self.sockets:
                    await socket.send_text(text)
        """
    assert state(manager) == []
    assert state(textwrap.dedent(manager) + "\nmanager = Manager()\n") == [
        ("connections", "manager.sockets", 5, 8, 12)
    ]


def test_request_data_written_by_a_route_and_read_elsewhere() -> None:
    code = HEADER + textwrap.dedent("""\
        tokens = {}
        cache = {}

        @app.post("/login")
        def login(user: str):
            tokens["abc"] = user

        def current(token: str):
            return tokens.get(token)

        @app.get("/price")
        def price(symbol: str):
            if symbol not in cache:
                cache[symbol] = 1
            return cache[symbol]

        def startup():
            cache["x"] = 0
        """)
    # `cache` is filled and read by one route (and written outside any route).
    assert state(code) == [("request-data", "tokens", 3, 8, 11)]


def test_a_broker_import_is_recorded() -> None:
    code = (
        "import redis.asyncio as redis\n"
        + HEADER
        + textwrap.dedent("""\
        clients = set()

        @app.websocket("/ws")
        async def chat(websocket: WebSocket):
            clients.add(websocket)
            for client in clients:
                await client.send_text("hi")
        """)
    )
    result = extract_python(SourceFile("main.py", "python", code))
    found = [f for f in result.facts if isinstance(f, ProcessLocalState)]
    assert [f.broker for f in found] == ["redis"]


# -- worker processes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "count", "written"),
    [
        ("uvicorn main:app --workers 4", 4, "--workers 4"),
        ("WEB_CONCURRENCY=3 uvicorn main:app", 3, "WEB_CONCURRENCY=3"),
        ("UVICORN_WORKERS=2 uvicorn main:app", 2, "UVICORN_WORKERS=2"),
        ("gunicorn -w 4 main:app", 4, "-w 4"),
        ("gunicorn --workers=5 main:app", 5, "--workers 5"),
        ("fastapi run --workers 2 main.py", 2, "--workers 2"),
        ("panel serve app.py --num-procs 0", None, "--num-procs 0"),
        ("bokeh serve app.py --num-procs 3", 3, "--num-procs 3"),
    ],
)
def test_several_processes(script: str, count: int | None, written: str) -> None:
    found = command(script).worker_processes()
    assert found is not None
    assert (found.count, found.written, found.symbolic) == (count, written, False)


@pytest.mark.parametrize(
    "script",
    [
        "uvicorn main:app",
        "uvicorn main:app --workers 1",
        "uvicorn main:app --workers 4 --reload",
        "fastapi dev main.py",
        "gunicorn main:app",
        "panel serve app.py --num-procs 1",
        "bokeh serve app.py --num-procs 4 --dev",
    ],
)
def test_one_process(script: str) -> None:
    assert command(script).worker_processes() is None


def test_a_count_known_at_run_time_is_symbolic() -> None:
    found = command('uvicorn main:app --workers "$WEB_CONCURRENCY"').worker_processes()
    assert found is not None and found.symbolic and found.count is None


# -- servers that hold a module ------------------------------------------------------------


CHAT = """\
from tornado.websocket import WebSocketHandler

class Chat(WebSocketHandler):
    clients = set()

    def open(self):
        self.clients.add(self)

    def on_message(self, message):
        for client in self.clients:
            client.write_message(message)

ROUTES = [("/chat", Chat, {})]
"""


def test_panel_plugins_and_server_calls_in_the_module() -> None:
    stack = stack_of(
        ("python", "chat.py", CHAT),
        ("python", "app.py", "import panel as pn\n"),
        ("shell", "start.sh", "panel serve app.py --plugins chat --num-procs 2\n"),
        (
            "python",
            "server.py",
            CHAT + "import panel as pn\npn.serve({'a': app}, num_procs=2)\n",
        ),
    )
    assert [c.span.path for c in stack.servers_running_module("chat.py")] == ["start.sh"]
    assert [c.span.path for c in stack.servers_running_module("server.py")] == ["server.py"]
    assert stack.servers_running_module("app.py") == []


def test_replicas_setting_of_the_compose_service() -> None:
    stack = stack_of(
        ("dockerfile", "Dockerfile", 'FROM python:3.12\nCMD ["uvicorn", "main:app"]\n'),
        ("compose", "compose.yaml", "services:\n  api:\n    build: .\n    scale: 3\n"),
    )
    (only,) = stack.serve_commands
    setting = stack.deploy.replicas_setting(only)
    assert setting is not None
    replicas, unit = setting
    assert (replicas.count, unit) == (3, "compose service `api`")


def test_an_app_beside_the_module_is_a_likely_importer() -> None:
    stack = stack_of(
        ("python", "app/main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
        ("python", "app/ws/manager.py", CHAT),
        ("python", "other/chat.py", CHAT),
        ("shell", "start.sh", "uvicorn app.main:app --workers 2\n"),
    )
    assert stack.servers_running_module("app/ws/manager.py") == []
    assert [c.span.path for c in stack.servers_below_import_root("app/ws/manager.py")] == [
        "start.sh"
    ]
    assert [c.span.path for c in stack.servers_below_import_root("other/chat.py")] == ["start.sh"]


def test_rooms_reached_through_get_and_setdefault() -> None:
    code = HEADER + textwrap.dedent("""\
        class Rooms:
            def __init__(self):
                self.lists: dict[int, list[WebSocket]] = {}

            async def join(self, room: int, websocket: WebSocket):
                self.lists.setdefault(room, []).append(websocket)

            async def say(self, room: int, text: str):
                for ws in self.lists.get(room, []):
                    await ws.send_text(text)

        rooms = Rooms()
        """)
    assert state(code) == [("connections", "rooms.lists", 5, 8, 12)]


def test_a_long_chain_of_handler_classes_is_followed_once_each() -> None:
    count = 2000
    lines = ["import tornado.websocket", "clients = set()"]
    lines.append(f"class C{count}(tornado.websocket.WebSocketHandler):\n    pass")
    lines += [f"class C{i}(C{i + 1}):\n    pass" for i in range(count - 1, -1, -1)]
    lines.append(
        "class Chat(C0):\n    def open(self):\n        clients.add(self)\n"
        "    def on_message(self, message):\n        for c in clients:\n"
        "            c.write_message(message)"
    )
    assert [kind for kind, *_ in state("\n".join(lines) + "\n")] == ["connections"]
