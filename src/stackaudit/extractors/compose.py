"""docker-compose files: each service's settings (``ComposeService``), its command,
entrypoint and environment (``ServeCommand`` through the command-line extractor), and
the CORS its Traefik labels configure.

Compose semantics reproduced: ``command:``/``entrypoint:`` as a string are split into
words (no shell runs them unless the command is ``sh -c ...``), as a list are the words;
``entrypoint`` words come before ``command`` words; ``$$`` is a literal ``$``;
``${VAR}``/``$VAR`` are interpolated by Compose from the host, so they stay symbolic,
while ``${VAR:-default}``/``${VAR-default}`` yield their default, marked as such;
``environment:`` is a map or a list of ``KEY=value`` (a key with no value passes the
host's value through).

Each file is read on its own; the override file, ``extends:`` and ``include:`` are
merged once per run by ``stackaudit.model.deploy.resolve_compose``."""

from __future__ import annotations

import posixpath
import re

from msgspec import Struct, field
from msgspec.structs import replace
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.nginx import TEMPLATE_NAME, blank_template_statements
from stackaudit.extractors.yamlnodes import (
    BUDGET_MESSAGE,
    BudgetExceeded,
    Walker,
    load_documents,
    node_span,
    restore_placeholders,
    scalar,
    scalar_token,
    unbrace_placeholders,
    unescape_dollars,
)
from stackaudit.facts.common import EnvVar, ParseProblem, Word, has_template, has_variable
from stackaudit.facts.deploy import (
    BuildContext,
    ComposeFile,
    ComposeService,
    Extends,
    IncludeRef,
    Label,
    PortMapping,
    Replicas,
    VolumeMount,
    parse_image,
)
from stackaudit.facts.image import ArgWord
from stackaudit.facts.traefik import traefik_config, traefik_cors_policies
from stackaudit.invocation.commandline import CommandContext, find_in_script, find_in_words
from stackaudit.invocation.joined import arg_word
from stackaudit.invocation.shellwords import Token, split_commands
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

# -- interpolation ------------------------------------------------------------------------

# One character standing for an expansion whose value is only known at run time, in the
# masked text used to split values such as ports.
UNKNOWN = "\x00"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
# Characters interpolation leaves as they are, at the top level and inside a default.
_PLAIN = re.compile(r"[^$]+")
_PLAIN_NESTED = re.compile(r"[^$}]+")


class Interpolated(Struct):
    """A compose value after interpolation: ``text`` as the container sees it
    (unresolved expansions kept as written), ``origins`` the file offset of each
    character, ``unknown`` whether each character belongs to an unresolved expansion."""

    text: str = ""
    origins: list[int] = field(default_factory=list)
    unknown: list[bool] = field(default_factory=list)
    default_used: bool = False

    @property
    def symbolic(self) -> bool:
        return any(self.unknown)

    @property
    def masked(self) -> str:
        """The text with each unresolved expansion as one ``UNKNOWN`` character, so
        that splitting on ``:`` never cuts through ``${VAR:?error}``."""
        out: list[str] = []
        for index, char in enumerate(self.text):
            if not self.unknown[index]:
                out.append(char)
            elif not out or out[-1] != UNKNOWN:
                out.append(UNKNOWN)
        return "".join(out)

    def add(self, text: str, origins: list[int], unresolved: bool = False) -> None:
        self.text += text
        self.origins.extend(origins)
        self.unknown.extend([unresolved] * len(text))

    def extend(self, other: Interpolated) -> None:
        self.text += other.text
        self.origins.extend(other.origins)
        self.unknown.extend(other.unknown)
        self.default_used = self.default_used or other.default_used

    def word(self, source: SourceFile, fallback: Span, start: int = 0) -> Word:
        text = self.text[start:]
        origins = self.origins[start:]
        span = source.span(origins[0], origins[-1] + 1) if origins else fallback
        # A `{{ placeholder }}` (a compose file rendered from a template) is filled in
        # at deployment, as an interpolated variable is.
        symbolic = any(self.unknown[start:]) or has_template(text)
        return Word(text, span, symbolic, self.default_used)


def interpolate(text: str, origins: list[int]) -> Interpolated:
    """Compose interpolation: ``$$`` → ``$``; ``${VAR:-d}``/``${VAR-d}`` → ``d`` (itself
    interpolated, so defaults nest); ``$VAR``, ``${VAR}``, ``${VAR:?e}``,
    ``${VAR:+r}`` → unknown."""
    result, _ = _interpolate(text, origins, 0, nested=False)
    return result


def _interpolate(
    text: str, origins: list[int], index: int, nested: bool
) -> tuple[Interpolated, int]:
    out = Interpolated()
    length = len(text)
    plain = _PLAIN_NESTED if nested else _PLAIN
    while index < length:
        # Most of a value is plain text: taken as one run, not a character at a time.
        run = plain.match(text, index)
        if run is not None:
            out.add(run.group(), origins[index : run.end()])
            index = run.end()
            continue
        char = text[index]
        if nested and char == "}":
            return out, index
        if char != "$" or index + 1 >= length:
            out.add(char, [origins[index]])
            index += 1
            continue
        following = text[index + 1]
        if following == "$":
            out.add("$", [origins[index]])
            index += 2
        elif following == "{":
            index = _braced(text, origins, index, out)
        else:
            match = _NAME.match(text, index + 1)
            if match:
                out.add(text[index : match.end()], origins[index : match.end()], True)
                index = match.end()
            else:
                out.add(char, [origins[index]])
                index += 1
    return out, index


def _braced(text: str, origins: list[int], start: int, out: Interpolated) -> int:
    """``${...}`` at ``start``; appends its value to ``out``, returns the index after it."""
    match = _NAME.match(text, start + 2)
    end = _closing(text, start + 2)
    if match is None or end < 0:
        stop = len(text) if end < 0 else end + 1
        out.add(text[start:stop], origins[start:stop], True)
        return stop
    after = match.end()
    operator = next((op for op in _OPERATORS if text.startswith(op, after)), None)
    if operator in (":-", "-"):
        default, close = _interpolate(text, origins, after + len(operator), nested=True)
        out.extend(default)
        out.default_used = True
        return close + 1
    out.add(text[start : end + 1], origins[start : end + 1], True)
    return end + 1


def _closing(text: str, index: int) -> int:
    """The index of the ``}`` closing a ``${`` whose body starts at ``index``."""
    depth = 1
    while index < len(text):
        if text.startswith("$$", index):
            index += 2
            continue
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def interpolated(source: SourceFile, node: ScalarNode) -> Interpolated:
    token = scalar_token(source, node)
    return interpolate(token.text, token.origins)


def compose_value(source: SourceFile, node: ScalarNode) -> Word:
    """A compose scalar as the container sees it: ``$$`` unescaped; the default of
    ``${VAR:-default}`` (marked ``default_used``); symbolic when Compose interpolates a
    variable without default into it."""
    return interpolated(source, node).word(source, node_span(source, node))


# -- environment and commands -------------------------------------------------------------


def environment(source: SourceFile, walker: Walker, node: Node | None, how: str) -> list[EnvVar]:
    found: list[EnvVar] = []
    if isinstance(node, SequenceNode):
        for item in walker.sequence(node):
            if not isinstance(item, ScalarNode):
                continue
            name, sep, _ = item.value.partition("=")
            value = None
            if sep:
                resolved = interpolated(source, item)
                start = resolved.text.find("=") + 1
                value = resolved.word(source, node_span(source, item), start)
            found.append(EnvVar(name.strip(), value, node_span(source, item), how))
        return found
    for name, value_node in walker.items(node):
        if isinstance(value_node, ScalarNode) and value_node.tag.endswith(":null"):
            found.append(EnvVar(name, None, node_span(source, value_node), how))
        elif isinstance(value_node, ScalarNode):
            found.append(
                EnvVar(name, compose_value(source, value_node), node_span(source, value_node), how)
            )
    return found


def command_tokens(
    source: SourceFile, walker: Walker, node: Node | None, unescape: bool = True
) -> list[Token] | str | None:
    """A list-form command as words, a string-form command as its token (to be split),
    or None."""
    if isinstance(node, SequenceNode):
        tokens = [
            scalar_token(source, item)
            for item in walker.sequence(node)
            if isinstance(item, ScalarNode)
        ]
        # The words are handed to the program as they are (no shell): only variables,
        # which Compose or Kubernetes expand, are run-time values. In Compose `$$` is a
        # literal dollar, so `$${VAR}` reaches the program as the text `${VAR}`.
        if unescape:
            return [
                replace(w, symbolic=_interpolated(source, w))
                for w in (unescape_dollars(t) for t in tokens)
            ]
        return [replace(t, symbolic=has_variable(t.text)) for t in tokens]
    return None


def _words(source: SourceFile, walker: Walker, node: Node | None) -> list[Token] | None:
    listed = command_tokens(source, walker, node)
    if isinstance(listed, list):
        return listed
    if isinstance(node, ScalarNode) and node.value.strip():
        token = unescape_dollars(scalar_token(source, node))
        words = [w for command in split_commands(token.text, token.origins) for w in command]
        # Compose interpolates `${VAR}` before it splits the string into words, quotes or
        # not; a `$$` is a literal dollar. Judge each word on what is written in the file.
        return [replace(w, symbolic=_interpolated(source, w)) for w in words]
    return None


def placed_words(
    source: SourceFile, node: Node | None, words: list[Token] | None
) -> tuple[ArgWord, ...] | None:
    """``entrypoint:``/``command:`` (``node``, split into ``words`` by ``_words``) as
    placed words; None when absent or null."""
    if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
        return None
    return tuple(arg_word(source, token) for token in words or ())


def _interpolated(source: SourceFile, word: Token) -> bool:
    if not word.origins:
        return word.symbolic
    written = source.text[word.origins[0] : word.origins[-1] + 1]
    return has_variable(written.replace("$$", ""))


# -- service settings ---------------------------------------------------------------------


class _Argv(Struct, frozen=True):
    """A service's ``entrypoint:`` and ``command:`` nodes and their words, split once:
    the service's settings and the command-line recognition both read them."""

    entrypoint_node: Node | None
    entrypoint: list[Token] | None
    command_node: Node | None
    command: list[Token] | None

    @classmethod
    def of(cls, source: SourceFile, walker: Walker, service: Node) -> _Argv:
        entrypoint = walker.get(service, "entrypoint")
        command = walker.get(service, "command")
        return cls(
            entrypoint,
            _words(source, walker, entrypoint),
            command,
            _words(source, walker, command),
        )


class _Reader(Struct):
    source: SourceFile
    walker: Walker

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.source.path)

    def span(self, node: Node) -> Span:
        return node_span(self.source, node)

    def word(self, node: Node | None) -> Word | None:
        if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
            return None
        return compose_value(self.source, node)

    def words(self, node: Node | None) -> list[Word]:
        if isinstance(node, ScalarNode):
            word = self.word(node)
            return [word] if word is not None else []
        return [w for item in self.walker.sequence(node) if (w := self.word(item)) is not None]

    def names(self, node: Node | None) -> tuple[str, ...]:
        """A list of names, or the keys of a mapping (``networks:``, ``depends_on:``)."""
        if isinstance(node, MappingNode):
            return tuple(name for name, _ in self.walker.items(node))
        return tuple(word.text for word in self.words(node))

    def path(self, written: str) -> str | None:
        """A path written relative to the compose file, relative to the scanned root;
        None when absolute, a URL, or outside the root."""
        if not written or written.startswith(("/", "~")) or "://" in written:
            return None
        if written.startswith("git@") or written.endswith(".git"):
            return None
        joined = posixpath.normpath(posixpath.join(self.directory, written))
        if joined == ".." or joined.startswith("../"):
            return None
        return joined

    # -- the settings ---------------------------------------------------------------------

    def ports(self, node: Node | None) -> tuple[PortMapping, ...]:
        found: list[PortMapping] = []
        for item in self.walker.sequence(node):
            if isinstance(item, ScalarNode):
                mapping = self._short_port(item)
                if mapping is not None:
                    found.append(mapping)
            elif isinstance(item, MappingNode):
                mapping = self._long_port(item)
                if mapping is not None:
                    found.append(mapping)
        return tuple(found)

    def _short_port(self, node: ScalarNode) -> PortMapping | None:
        value = interpolated(self.source, node)
        masked = value.masked.strip()
        protocol = "tcp"
        if "/" in masked:
            masked, protocol = masked.rsplit("/", 1)
        host_ip: str | None = None
        if masked.startswith("["):
            close = masked.find("]")
            if close < 0:
                return None
            host_ip, masked = masked[1:close], masked[close + 2 :]
            parts = masked.split(":")
        else:
            parts = masked.split(":")
            if len(parts) > 3:  # an IPv6 address without brackets
                host_ip = ":".join(parts[:-2])
                parts = parts[-2:]
            elif len(parts) == 3:
                host_ip, parts = parts[0], parts[1:]
        if not parts or len(parts) > 2 or not parts[-1]:
            return None
        published = parts[0] if len(parts) == 2 and parts[0] else None
        mapping = self._mapping(
            parts[-1], published, host_ip if host_ip != "" else None, protocol, value, node
        )
        return replace(mapping, written=node.value)

    def _long_port(self, node: MappingNode) -> PortMapping | None:
        fields = dict(self.walker.items(node))
        target = fields.get("target")
        if not isinstance(target, ScalarNode):
            return None
        parts = {
            name: interpolated(self.source, child)
            for name, child in fields.items()
            if isinstance(child, ScalarNode) and not child.tag.endswith(":null")
        }
        combined = Interpolated()
        for part in parts.values():
            combined.extend(part)
        published = parts["published"].masked if "published" in parts else None
        host_ip = parts["host_ip"].masked if "host_ip" in parts else None
        protocol = parts["protocol"].masked if "protocol" in parts else "tcp"
        if "target" not in parts:
            return None  # a long-syntax entry without a target is not a valid port
        return self._mapping(parts["target"].masked, published, host_ip, protocol, combined, node)

    def _mapping(
        self,
        target: str,
        published: str | None,
        host_ip: str | None,
        protocol: str,
        value: Interpolated,
        node: Node,
    ) -> PortMapping:
        def shown(text: str | None) -> str | None:
            return text.replace(UNKNOWN, "$…") if text is not None else None

        return PortMapping(
            target=shown(target) or "",
            span=self.span(node),
            published=shown(published),
            host_ip=shown(host_ip),
            protocol=protocol.lower() or "tcp",
            symbolic=value.symbolic,
            default_used=value.default_used,
            host_ip_symbolic=host_ip is not None and UNKNOWN in host_ip,
        )

    def volumes(self, node: Node | None) -> tuple[VolumeMount, ...]:
        found: list[VolumeMount] = []
        for item in self.walker.sequence(node):
            if isinstance(item, ScalarNode):
                text = interpolated(self.source, item).text
                parts = text.split(":")
                if len(parts) == 1:
                    found.append(VolumeMount(parts[0], self.span(item)))
                    continue
                source_text, target = parts[0], parts[1]
                mode = parts[2] if len(parts) > 2 else ""
                found.append(self._volume(source_text, target, "ro" in mode.split(","), item))
            elif isinstance(item, MappingNode):
                target_word = self.word(self.walker.get(item, "target"))
                if target_word is None:
                    continue
                source_word = self.word(self.walker.get(item, "source"))
                read_only = (scalar(self.walker.get(item, "read_only")) or "").lower() == "true"
                kind = scalar(self.walker.get(item, "type")) or ""
                mount = self._volume(
                    source_word.text if source_word else "", target_word.text, read_only, item
                )
                if kind in ("bind", "volume", "tmpfs"):
                    mount = VolumeMount(
                        mount.target,
                        mount.span,
                        mount.source,
                        kind,  # type: ignore[arg-type]
                        read_only,
                        mount.host_path if kind == "bind" else None,
                    )
                found.append(mount)
        return tuple(found)

    def _volume(self, source: str, target: str, read_only: bool, node: Node) -> VolumeMount:
        if not source:
            return VolumeMount(target, self.span(node), None, "volume", read_only)
        is_path = source.startswith(("/", ".", "~"))
        return VolumeMount(
            target,
            self.span(node),
            source,
            "bind" if is_path else "volume",
            read_only,
            self.path(source) if is_path else None,
        )

    def labels(self, node: Node | None) -> tuple[Label, ...]:
        found: list[Label] = []
        if isinstance(node, SequenceNode):
            for item in self.walker.sequence(node):
                if not isinstance(item, ScalarNode):
                    continue
                value = interpolated(self.source, item)
                key, _, _ = value.text.partition("=")
                start = len(key) + 1 if "=" in value.text else len(value.text)
                word = value.word(self.source, self.span(item), start)
                if start >= len(value.text):
                    word = Word("", self.span(item))
                found.append(Label(key.strip(), word, self.span(item)))
            return tuple(found)
        for key_node, value_node in self.walker.key_items(node):
            span = Span(
                self.source.path,
                *self.source.position(key_node.start_mark.index),
                *self.source.position(value_node.end_mark.index),
            )
            found.append(Label(key_node.value, self.word(value_node) or Word("", span), span))
        return tuple(found)

    def build(self, node: Node | None) -> BuildContext | None:
        if node is None:
            return None
        if isinstance(node, ScalarNode):
            context = interpolated(self.source, node).text
            where = self.path(context)
            dockerfile = posixpath.join(where, "Dockerfile") if where is not None else None
            return BuildContext(self.span(node), where, _clean(dockerfile))
        context_word = self.word(self.walker.get(node, "context"))
        where = self.path(context_word.text if context_word else ".")
        inline = self.walker.get(node, "dockerfile_inline") is not None
        dockerfile_word = self.word(self.walker.get(node, "dockerfile"))
        name = dockerfile_word.text if dockerfile_word else "Dockerfile"
        dockerfile = None
        if where is not None and not inline and not name.startswith("/"):
            dockerfile = _clean(posixpath.join(where, name))
        return BuildContext(self.span(node), where, dockerfile, inline)

    def replicas(self, service: Node) -> Replicas | None:
        word = self.word(self.walker.get(self.walker.get(service, "deploy"), "replicas"))
        if word is not None:
            return Replicas(word, "deploy.replicas")
        word = self.word(self.walker.get(service, "scale"))
        return Replicas(word, "scale") if word is not None else None

    def env_files(self, node: Node | None) -> tuple[Word, ...]:
        if isinstance(node, SequenceNode):
            found: list[Word] = []
            for item in self.walker.sequence(node):
                word = self.word(
                    self.walker.get(item, "path") if isinstance(item, MappingNode) else item
                )
                if word is not None:
                    found.append(word)
            return tuple(found)
        return tuple(self.words(node))

    def extends(self, node: Node | None) -> Extends | None:
        if isinstance(node, ScalarNode):
            return Extends(node.value, None, self.span(node))
        service = self.word(self.walker.get(node, "service"))
        if service is None or node is None:
            return None
        file_word = self.word(self.walker.get(node, "file"))
        other = self.path(file_word.text) if file_word is not None else None
        if file_word is not None and other is None:
            return None  # outside the scanned root: not followed
        return Extends(service.text, other, self.span(node))

    def includes(self, node: Node | None) -> tuple[IncludeRef, ...]:
        found: list[IncludeRef] = []
        for item in self.walker.sequence(node):
            target = self.walker.get(item, "path") if isinstance(item, MappingNode) else item
            for word in self.words(target):
                found.append(IncludeRef(self.path(word.text), word.text, word.span))
        return tuple(found)

    def service(self, key: ScalarNode, node: Node, argv: _Argv) -> ComposeService:
        get = self.walker.get
        image_word = self.word(get(node, "image"))
        image = (
            parse_image(
                image_word.text, image_word.span, image_word.symbolic, image_word.default_used
            )
            if image_word is not None
            else None
        )
        deploy = get(node, "deploy")
        command = argv.command_node
        entrypoint = argv.entrypoint_node
        return ComposeService(
            file=self.source.path,
            name=key.value,
            span=self.span(key),
            image=image,
            build=self.build(get(node, "build")),
            command=self.span(command) if command is not None and scalar(command) != "" else None,
            command_args=tuple(t.text for t in argv.command or ()),
            entrypoint=self.span(entrypoint) if entrypoint is not None else None,
            entrypoint_words=placed_words(self.source, entrypoint, argv.entrypoint),
            command_words=placed_words(self.source, command, argv.command),
            ports=self.ports(get(node, "ports")),
            expose=tuple(self.words(get(node, "expose"))),
            networks=self.names(get(node, "networks")),
            network_mode=self.word(get(node, "network_mode")),
            replicas=self.replicas(node),
            labels=(*self.labels(get(node, "labels")), *self.labels(get(deploy, "labels"))),
            volumes=self.volumes(get(node, "volumes")),
            env=tuple(
                environment(
                    self.source, self.walker, get(node, "environment"), "compose environment"
                )
            ),
            env_files=self.env_files(get(node, "env_file")),
            profiles=tuple(word.text for word in self.words(get(node, "profiles"))),
            depends_on=self.names(get(node, "depends_on")),
            extends=self.extends(get(node, "extends")),
            sources=(f"compose:{self.source.path}:{key.value}",),
        )


def _clean(path: str | None) -> str | None:
    if path is None:
        return None
    cleaned = posixpath.normpath(path)
    return None if cleaned.startswith("../") else cleaned


# -- the extractor ------------------------------------------------------------------------


def extract_compose(source: SourceFile) -> Extraction:
    """A compose file's services. A template (`docker-compose.yml.j2`, or any compose
    file holding `{{ }}`/`{% %}`) is read with its Jinja statements and comments blanked,
    offsets kept, so both branches of an `{% if %}` are read and `{{ expr }}` values are
    run-time values; one that still is not YAML is skipped without a finding, as a Helm
    chart is: it cannot be judged before it is rendered. (A plain compose file is a
    template when the error is on a line holding `{{`.)"""
    result = Extraction()
    text, neutralised = blank_template_statements(source.text)
    documents, problems = load_documents(source, text if neutralised else None)
    unbraced = unbrace_placeholders(text) if problems else None
    if unbraced is not None:
        # `password: {{.Env.DB}}`: read the rest of the template around the value.
        retried, still = load_documents(source, unbraced)
        if not still:
            restore_placeholders(source, retried)
            documents, problems, neutralised = retried, [], True
    if problems and (
        neutralised
        or TEMPLATE_NAME.search(source.path)
        or has_template(_line(source, problems[0].span.line))
    ):
        return result
    result.problems.extend(problems)
    walker = Walker()
    reader = _Reader(source, walker)
    deployment = not is_development_path(source.path)
    try:
        for document in documents:
            services: list[ComposeService] = []
            for key, node in walker.key_items(walker.get(document, "services")):
                argv = _Argv.of(source, walker, node)
                service = reader.service(key, node, argv)
                services.append(service)
                found = _commands(source, service, argv, deployment)
                result.facts.extend(found)
                if not found:
                    # No server command recognised here (the image's own CMD runs):
                    # the environment still matters (secrets, origins).
                    result.facts.extend(service.env)
                for policy in traefik_cors_policies(
                    traefik_config(service.labels), f"compose service `{service.name}`"
                ):
                    result.facts.append(policy)
            includes = reader.includes(walker.get(document, "include"))
            if services or includes:
                result.facts.append(
                    ComposeFile(source.path, node_span(source, document), tuple(services), includes)
                )
    except BudgetExceeded:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), BUDGET_MESSAGE))
    return result


def _line(source: SourceFile, number: int) -> str:
    lines = source.lines
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _commands(
    source: SourceFile, service: ComposeService, argv: _Argv, deployment: bool
) -> list[object]:
    context = CommandContext(
        source,
        "compose",
        f"compose service `{service.name}`",
        deployment,
        list(service.env),
        service=service.key,
        env_files=service.env_files,
    )
    words = (argv.entrypoint or []) + (argv.command or [])
    if not words:
        return []
    # An `entrypoint:` that is a script running its arguments is followed by the model,
    # which sees whether the script is in the repository.
    return list(find_in_words(context, words))


__all__ = [
    "command_tokens",
    "compose_value",
    "environment",
    "extract_compose",
    "find_in_script",
    "interpolate",
]
