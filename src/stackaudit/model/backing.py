"""Backing services a container runs, told by its image: databases, caches, queues,
search engines and their admin UIs; the ports they listen on; and how their
credentials are set, as each image's own entrypoint reads them.

An image is recognised by its repository after Docker's normalization
(``model.images``): ``postgres:16``, ``docker.io/library/postgres`` and
``library/postgres@sha256:…`` are the same image; a repository only known at run
time (``${DB_IMAGE}``) is none. What each image does with its environment is written
down, with sources, in docs/upstream-facts.md ("SA602")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word, has_variable
from stackaudit.facts.deploy import ComposeService, ImageRef, K8sContainer
from stackaudit.facts.image import ArgWord
from stackaudit.model.images import image_name

# How a backing service lets clients in:
# - "none": no authentication at all (trust, empty password, no requirepass);
# - "default": a public default account (guest/guest, admin/admin);
# - "literal": a password written in the scanned files (committed with them);
# - "runtime": a password supplied at run time (`${VAR}`, a secret file, a
#   Kubernetes Secret), or an authentication mechanism set up elsewhere;
# - "generated": the image makes up a random credential and prints it;
# - "unknown": the scanned files do not say (an env_file that was not scanned, a
#   configuration file mounted into the container).
AuthState = Literal["none", "default", "literal", "runtime", "generated", "unknown"]
WEAK: frozenset[AuthState] = frozenset({"none", "default", "literal"})

# Passwords every tutorial uses: named in the message when written.
PUBLIC_DEFAULTS = frozenset(
    {
        "postgres",
        "password",
        "changeme",
        "secret",
        "root",
        "admin",
        "example",
        "guest",
        "mysql",
        "redis",
        "pass",
        "123456",
        "test",
    }
)


class Auth(Struct, frozen=True):
    """How the service authenticates, where the deciding setting is written (None when
    it is decided by its absence), and the reason in words."""

    state: AuthState
    reason: str
    span: Span | None = None
    default_used: bool = False

    @property
    def weak(self) -> bool:
        return self.state in WEAK


class Container(Struct, frozen=True):
    """What the credential checks read of a container: its environment (the setting
    written last wins), the words of its command (``command:``/``args:``), and whether
    part of its environment comes from sources not scanned."""

    env: tuple[EnvVar, ...]
    args: tuple[Word, ...] = ()
    unread_env: bool = False

    def var(self, *names: str) -> EnvVar | None:
        found = [var for var in self.env if var.name in names]
        return found[-1] if found else None


class BackingService(Struct, frozen=True):
    """A recognised backing-service image: its kind, a label for messages, the
    container ports it listens on by default and how its credentials are judged."""

    kind: str
    label: str
    ports: frozenset[int]
    auth: Callable[[Container, str | None], Auth]
    tag: str | None = None

    def judge(self, container: Container) -> Auth:
        return self.auth(container, self.tag)

    def service_ports(self, container: Container) -> frozenset[int]:
        """The container ports the service listens on: the image's defaults, and for
        Kafka the ports of its configured listeners."""
        if self.kind == "kafka":
            return self.ports | _kafka_listener_ports(container)
        return self.ports


EnvFiles = Callable[[tuple[Word, ...], str], tuple[list[EnvVar], tuple[Word, ...]]]


def compose_container(service: ComposeService, env_files: EnvFiles) -> Container:
    """A compose service as the credential checks read it: ``environment:`` over the
    scanned ``env_file:`` entries (Compose's precedence), and the words of
    ``command:``."""
    loaded, unread = env_files(service.env_files, service.file)
    return Container(
        (*loaded, *service.env), _words(service.command_words), unread_env=bool(unread)
    )


def k8s_container(container: K8sContainer, env_from: bool) -> Container:
    """A Kubernetes container: its ``env`` (a ``valueFrom`` is set at deploy time) and
    ``args``; ``env_from`` tells that ``envFrom`` adds variables not read here."""
    return Container(container.env, _words(container.args_words), unread_env=env_from)


def _words(words: Iterable[ArgWord] | None) -> tuple[Word, ...]:
    return tuple(Word(w.text, w.span, w.symbolic, w.default_used) for w in words or ())


def backing_service(image: ImageRef | None) -> BackingService | None:
    """The backing service ``image`` runs, if it is one this module knows."""
    if image is None:
        return None
    name = image_name(image)
    if name is None or name.symbolic:
        return None
    found = _BY_REPOSITORY.get(name.familiar) or _BY_REPOSITORY.get(name.repository)
    if found is None and _is_jupyter(name.repository):
        found = _JUPYTER
    if found is None:
        return None
    return BackingService(found.kind, found.label, found.ports, found.auth, name.tag)


def _is_jupyter(repository: str) -> bool:
    """The Jupyter Docker Stacks images: ``jupyter/<x>-notebook`` on Docker Hub and
    ``quay.io/jupyter/<x>-notebook``."""
    registry, _, rest = repository.partition("/")
    if registry not in ("docker.io", "quay.io"):
        return False
    owner, _, image = rest.partition("/")
    return owner == "jupyter" and image.endswith("-notebook")


# -- the credential checks, per image ----------------------------------------------------


def _password(container: Container, names: Sequence[str], what: str) -> Auth | None:
    """How the first of ``names`` that is set gives the password (``NAME_FILE`` counts:
    the official entrypoints read the value from that file); None when none is set."""
    for name in names:
        var = container.var(name)
        if var is not None and (var.value is None or var.value.text.strip()):
            return _from_variable(var, what)
        secret = container.var(f"{name}_FILE")
        if secret is not None:
            return Auth("runtime", f"{what} is read from a file ({secret.name})", secret.span)
    return None


def _from_variable(var: EnvVar, what: str) -> Auth:
    value = var.value
    if value is None or var.reference:
        return Auth("runtime", f"{what} comes from {var.name}, set at deploy time", var.span)
    if value.symbolic or has_variable(value.text):
        # `${VAR}`, or a template placeholder filled in before the file is used.
        return Auth("runtime", f"{what} is interpolated at run time ({var.name})", value.span)
    known = " (a well-known default)" if value.text.strip().lower() in PUBLIC_DEFAULTS else ""
    where = "the default of its variable" if value.default_used else "written in the file"
    return Auth(
        "literal",
        f"{what} {var.name} is {where}{known}",
        value.span,
        default_used=value.default_used,
    )


def _enabled(var: EnvVar | None, *values: str) -> bool:
    return var is not None and var.is_literal and _text(var).lower() in values


def _text(var: EnvVar) -> str:
    return var.value.text.strip() if var.value is not None else ""


def _missing(container: Container, what: str, otherwise: Auth) -> Auth:
    """No password set in the scanned environment: unknown when part of the environment
    is not scanned, else ``otherwise``."""
    if container.unread_env:
        return Auth("unknown", f"{what} may come from an environment file not scanned")
    return otherwise


def _postgres(container: Container, tag: str | None) -> Auth:
    # docker-library/postgres docker-entrypoint.sh: `host all all all <method>` with
    # POSTGRES_HOST_AUTH_METHOD, trust taking no password at all; bitnami/postgresql
    # takes POSTGRESQL_PASSWORD and refuses an empty one unless ALLOW_EMPTY_PASSWORD.
    method = container.var("POSTGRES_HOST_AUTH_METHOD", "POSTGRESQL_PGHBA_TRUST_ENABLED")
    if _enabled(method, "trust", "yes", "true") and method is not None:
        return Auth("none", f"{method.name}={_text(method)} lets anyone in", method.span)
    empty = container.var("ALLOW_EMPTY_PASSWORD")
    if _enabled(empty, "yes") and empty is not None:
        return Auth("none", "ALLOW_EMPTY_PASSWORD=yes accepts an empty password", empty.span)
    found = _password(container, ("POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD"), "the password")
    return found or _missing(
        container,
        "the password",
        Auth("unknown", "no password is set here (the image refuses to initialise without)"),
    )


def _mysql(container: Container, tag: str | None) -> Auth:
    # docker-library/mysql and mariadb docker-entrypoint.sh: any non-empty
    # MYSQL_ALLOW_EMPTY_PASSWORD creates root without a password, for '%' by default.
    for name in ("MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"):
        var = container.var(name)
        if var is not None and var.is_literal and _text(var) and _text(var).lower() != "no":
            return Auth("none", f"{name} creates root without a password", var.span)
    empty = container.var("ALLOW_EMPTY_PASSWORD")
    if _enabled(empty, "yes") and empty is not None:
        return Auth("none", "ALLOW_EMPTY_PASSWORD=yes accepts an empty password", empty.span)
    names = ("MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD", "MYSQL_PASSWORD", "MARIADB_PASSWORD")
    judged = [found for name in names if (found := _password(container, (name,), "the password"))]
    weak = [auth for auth in judged if auth.weak]
    if weak:
        return weak[0]
    if judged:
        return judged[0]
    random = container.var("MYSQL_RANDOM_ROOT_PASSWORD", "MARIADB_RANDOM_ROOT_PASSWORD")
    if random is not None:
        return Auth("generated", "the root password is generated", random.span)
    return _missing(
        container,
        "the password",
        Auth("unknown", "no password is set here (the image refuses to initialise without)"),
    )


def _mongo(container: Container, tag: str | None) -> Auth:
    # docker-library/mongo docker-entrypoint.sh adds `--auth` only when both
    # MONGO_INITDB_ROOT_USERNAME and _PASSWORD are set; bitnami/mongodb takes
    # MONGODB_ROOT_PASSWORD.
    found = _password(
        container, ("MONGO_INITDB_ROOT_PASSWORD", "MONGODB_ROOT_PASSWORD"), "the root password"
    )
    if found is not None:
        return found
    if any(word.text == "--auth" for word in container.args):
        return Auth("unknown", "`--auth` is set; the users are created elsewhere")
    return _missing(
        container,
        "the root password",
        Auth("none", "MONGO_INITDB_ROOT_PASSWORD is not set: mongod runs without `--auth`"),
    )


def _redis(container: Container, tag: str | None) -> Auth:
    # The official image builds redis with protected mode off and runs `redis-server`
    # without a password (redis/docker-library-redis Dockerfile).
    args = list(container.args)
    extra = container.var("REDIS_ARGS")  # redis/redis-stack's entrypoint appends these
    if extra is not None and extra.value is not None:
        args.extend(Word(part, extra.value.span, extra.value.symbolic) for part in _split(extra))
    for index, word in enumerate(args):
        if word.text == "--requirepass" and index + 1 < len(args):
            value = args[index + 1]
            if value.symbolic or has_variable(value.text):
                return Auth("runtime", "`--requirepass` is interpolated at run time", value.span)
            return Auth("literal", "`--requirepass` is written in the file", value.span)
        if word.text.endswith(".conf") or word.text in ("--aclfile", "--include"):
            return Auth("unknown", f"a configuration file ({word.text}) may set a password")
    found = _password(container, ("REDIS_PASSWORD",), "the password")  # bitnami/redis
    if found is not None:
        return found
    empty = container.var("ALLOW_EMPTY_PASSWORD")
    if _enabled(empty, "yes") and empty is not None:
        return Auth("none", "ALLOW_EMPTY_PASSWORD=yes runs Redis without a password", empty.span)
    return Auth("none", "redis-server runs without `--requirepass` and with protected mode off")


def _split(var: EnvVar) -> list[str]:
    return _text(var).split()


def _rabbitmq(container: Container, tag: str | None) -> Auth:
    # The image's /etc/rabbitmq/conf.d/10-defaults.conf sets `loopback_users.guest =
    # false`: guest/guest logs in from anywhere unless RABBITMQ_DEFAULT_USER/PASS
    # replace it (docker-library/rabbitmq).
    found = _password(container, ("RABBITMQ_DEFAULT_PASS",), "the password")
    if found is not None:
        return found
    return _missing(
        container,
        "the password",
        Auth("default", "RABBITMQ_DEFAULT_PASS is not set: guest/guest logs in from any address"),
    )


def _elasticsearch(container: Container, tag: str | None) -> Auth:
    setting = container.var("xpack.security.enabled")
    if _enabled(setting, "false") and setting is not None:
        return Auth("none", "xpack.security.enabled=false turns authentication off", setting.span)
    if _major(tag) is not None and (_major(tag) or 0) < 8 and not _enabled(setting, "true"):
        return Auth("none", f"Elasticsearch {tag} runs without security unless enabled")
    found = _password(container, ("ELASTIC_PASSWORD",), "the `elastic` password")
    if found is not None:
        return found
    return Auth("generated", "Elasticsearch 8 generates the `elastic` password")


def _opensearch(container: Container, tag: str | None) -> Auth:
    for name in ("DISABLE_SECURITY_PLUGIN", "plugins.security.disabled"):
        var = container.var(name)
        if _enabled(var, "true") and var is not None:
            return Auth("none", f"{name}=true turns the security plugin off", var.span)
    found = _password(container, ("OPENSEARCH_INITIAL_ADMIN_PASSWORD",), "the admin password")
    if found is not None:
        return found
    version = _version(tag)
    if version is not None and version < (2, 12):
        return Auth("default", f"OpenSearch {tag}'s demo configuration has admin/admin")
    return _missing(container, "the admin password", Auth("unknown", "no admin password here"))


def _kafka(container: Container, tag: str | None) -> Auth:
    # A listener authenticates only with a SASL_* security protocol; PLAINTEXT and
    # SSL (without client certificates) accept any client.
    for var in container.env:
        if "LISTENER" in var.name.upper() and var.value is not None and "SASL_" in _text(var):
            return Auth("runtime", f"{var.name} names a SASL listener", var.span)
    if container.unread_env:
        return Auth("unknown", "the listeners may be set in an environment file not scanned")
    return Auth("none", "no SASL listener is configured: Kafka accepts any client")


def _kafka_listener_ports(container: Container) -> set[int]:
    ports: set[int] = set()
    for var in container.env:
        name = var.name.upper()
        if name.endswith("LISTENERS") and var.is_literal:
            ports.update(int(p) for p in re.findall(r":(\d{1,5})(?:,|$)", _text(var)))
    return ports


def _kafka_ui(container: Container, tag: str | None) -> Auth:
    mode = container.var("AUTH_TYPE", "auth.type")
    kind = _text(mode).strip("'\"").upper() if mode is not None else ""
    if mode is None or kind == "DISABLED":
        return _missing(
            container, "AUTH_TYPE", Auth("none", "AUTH_TYPE is not set: the UI is open")
        )
    if kind == "LOGIN_FORM":
        found = _password(container, ("SPRING_SECURITY_USER_PASSWORD",), "the password")
        return found or Auth("generated", "Spring generates the login password")
    return Auth("runtime", f"AUTH_TYPE={kind}", mode.span)


def _pgadmin(container: Container, tag: str | None) -> Auth:
    mode = container.var("PGADMIN_CONFIG_SERVER_MODE")
    if _enabled(mode, "false") and mode is not None:
        return Auth("none", "PGADMIN_CONFIG_SERVER_MODE=False: desktop mode, no login", mode.span)
    found = _password(container, ("PGADMIN_DEFAULT_PASSWORD",), "the login password")
    return found or _missing(container, "the login password", Auth("unknown", "not set here"))


def _adminer(container: Container, tag: str | None) -> Auth:
    return Auth("runtime", "Adminer logs into any database server it can reach")


def _flower(container: Container, tag: str | None) -> Auth:
    found = _password(container, ("FLOWER_BASIC_AUTH",), "the basic-auth credentials")
    if found is not None:
        return found
    for index, word in enumerate(container.args):
        name, _, value = word.text.partition("=")
        if name in ("--basic_auth", "--basic-auth", "--auth"):
            if not value and index + 1 < len(container.args):
                value = container.args[index + 1].text
            if has_variable(value) or word.symbolic:
                return Auth("runtime", f"`{name}` is interpolated at run time", word.span)
            if name == "--auth":
                return Auth("runtime", "OAuth (`--auth`) is set up", word.span)
            return Auth("literal", f"`{name}` is written in the file", word.span)
    if container.var("FLOWER_AUTH") is not None:
        return Auth("runtime", "OAuth (FLOWER_AUTH) is set up")
    return _missing(container, "the credentials", Auth("none", "Flower runs without any auth"))


# Jupyter Server's token option under its three historical names; an empty token
# with no password turns authentication off.
_EMPTY_TOKEN = re.compile(r"^--(?:NotebookApp|ServerApp|IdentityProvider)\.token=(?:''|\"\")?$")


def _jupyter(container: Container, tag: str | None) -> Auth:
    empty = [word for word in container.args if _EMPTY_TOKEN.match(word.text)]
    if empty:
        return Auth("none", f"`{empty[0].text}` turns the token off", empty[0].span)
    token = container.var("JUPYTER_TOKEN")
    if token is not None:
        if token.is_literal and not _text(token):
            return Auth("none", "JUPYTER_TOKEN is empty: no token", token.span)
        return _from_variable(token, "the token")
    return Auth("generated", "Jupyter generates a token and prints it")


def _major(tag: str | None) -> int | None:
    version = _version(tag)
    return version[0] if version else None


def _version(tag: str | None) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+(?:\.\d+)*)", tag or "")
    if not match:
        return None
    return tuple(int(part) for part in match.group(1).split(".")[:3])


def _service(
    kind: str, label: str, ports: Iterable[int], auth: Callable[[Container, str | None], Auth]
) -> BackingService:
    return BackingService(kind, label, frozenset(ports), auth)


_POSTGRES = _service("postgres", "PostgreSQL", (5432,), _postgres)
_MYSQL = _service("mysql", "MySQL", (3306, 33060), _mysql)
_MARIADB = _service("mariadb", "MariaDB", (3306,), _mysql)
_MONGO = _service("mongo", "MongoDB", (27017,), _mongo)
_REDIS = _service("redis", "Redis", (6379,), _redis)
_RABBITMQ = _service("rabbitmq", "RabbitMQ", (5671, 5672, 15671, 15672), _rabbitmq)
_KAFKA = _service("kafka", "Kafka", (9092,), _kafka)
_ELASTIC = _service("elasticsearch", "Elasticsearch", (9200,), _elasticsearch)
_OPENSEARCH = _service("opensearch", "OpenSearch", (9200, 9600), _opensearch)
_JUPYTER = _service("jupyter", "Jupyter", (8888,), _jupyter)

# Repositories, in Docker Hub's short form or in full for other registries.
_BY_REPOSITORY: dict[str, BackingService] = {
    "postgres": _POSTGRES,
    "postgis/postgis": _POSTGRES,
    "bitnami/postgresql": _POSTGRES,
    "mysql": _MYSQL,
    "bitnami/mysql": _MYSQL,
    "mariadb": _MARIADB,
    "bitnami/mariadb": _MARIADB,
    "mongo": _MONGO,
    "bitnami/mongodb": _MONGO,
    "redis": _REDIS,
    "bitnami/redis": _REDIS,
    "redis/redis-stack": _service("redis", "Redis Stack", (6379, 8001), _redis),
    "redis/redis-stack-server": _REDIS,
    "rabbitmq": _RABBITMQ,
    "confluentinc/cp-kafka": _KAFKA,
    "bitnami/kafka": _KAFKA,
    "apache/kafka": _KAFKA,
    "provectuslabs/kafka-ui": _service("kafka-ui", "Kafka UI", (8080,), _kafka_ui),
    "elasticsearch": _ELASTIC,
    "docker.elastic.co/elasticsearch/elasticsearch": _ELASTIC,
    "bitnami/elasticsearch": _ELASTIC,
    "opensearchproject/opensearch": _OPENSEARCH,
    "dpage/pgadmin4": _service("pgadmin", "pgAdmin", (80, 443), _pgadmin),
    "adminer": _service("adminer", "Adminer", (8080,), _adminer),
    "mher/flower": _service("flower", "Flower", (5555,), _flower),
}
