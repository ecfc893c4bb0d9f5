"""Platform command lines in scripts, Makefile recipes, CI steps and Cloud Build steps:
what they deploy and the environment they set.

- ``gcloud run deploy SERVICE`` (Cloud Run): ``--set-env-vars``/``--update-env-vars``
  ``K=V,K2=V2`` (gcloud's ``^DELIM^`` prefix changes the separator),
  ``--set-secrets``/``--update-secrets K=SECRET:VERSION`` (set, value unknown),
  ``--env-vars-file FILE`` (names unknown here), ``--source DIR`` (the Dockerfile or
  Procfile built from DIR), ``--timeout``. ``gcloud run services update SERVICE`` sets
  the same variables on a deployed service.
- ``heroku config:set K=V... [-a APP]``; ``fly|flyctl secrets set K=V... [-a APP]``.
- Azure App Service: ``az webapp config set --startup-file CMD`` (the command, or a
  script file, the platform starts) and ``az webapp config appsettings set --settings
  K=V...`` (app settings reach the process as environment variables).

References: https://cloud.google.com/sdk/gcloud/reference/run/deploy,
https://devcenter.heroku.com/articles/config-vars, https://fly.io/docs/flyctl/secrets-set/,
https://learn.microsoft.com/cli/azure/webapp/config#az-webapp-config-set,
https://learn.microsoft.com/cli/azure/webapp/config/appsettings."""

from __future__ import annotations

import posixpath
import re

from stackaudit.facts.common import EnvVar, Word
from stackaudit.facts.platform import (
    AZURE_APP_SERVICE,
    CLOUD_RUN,
    FLY,
    HEROKU,
    PlatformEnv,
    PlatformService,
)
from stackaudit.invocation.commandline import (
    CommandContext,
    basename,
    find_in_script,
    to_word,
    token_span,
)
from stackaudit.invocation.shellwords import Token, split_commands
from stackaudit.source import SourceFile

# gcloud run deploy / services update flags that take a value (the others are switches:
# a word after them is the next positional).
_GCLOUD_VALUE_FLAGS = frozenset(
    {
        "--set-env-vars",
        "--update-env-vars",
        "--remove-env-vars",
        "--set-secrets",
        "--update-secrets",
        "--remove-secrets",
        "--env-vars-file",
        "--source",
        "--image",
        "--timeout",
        "--region",
        "--project",
        "--platform",
        "--port",
        "--command",
        "--args",
        "--service-account",
        "--memory",
        "--cpu",
        "--concurrency",
        "--max-instances",
        "--min-instances",
        "--ingress",
        "--tag",
        "--labels",
        "--update-labels",
        "--vpc-connector",
        "--vpc-egress",
        "--network",
        "--subnet",
        "--revision-suffix",
        "--execution-environment",
        "--set-cloudsql-instances",
        "--add-cloudsql-instances",
        "--format",
        "--account",
        "--configuration",
        "--verbosity",
        "--base-image",
        "--function",
        "--description",
    }
)
_ENV_FLAGS = frozenset({"--set-env-vars", "--update-env-vars"})
_SECRET_FLAGS = frozenset({"--set-secrets", "--update-secrets"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Scan:
    """One file's platform commands, turned into facts."""

    def __init__(self, source: SourceFile, carrier: str, deployment: bool) -> None:
        self.source = source
        self.carrier = carrier
        self.deployment = deployment
        self.facts: list[object] = []

    # -- helpers -----------------------------------------------------------------------

    def span(self, words: list[Token]) -> Word:
        first, last = words[0], words[-1]
        start = first.origins[0] if first.origins else first.start
        end = last.origins[-1] + 1 if last.origins else last.end
        return Word(first.text, self.source.span(start, end))

    def word(self, token: Token, start: int = 0) -> Word:
        return to_word(self.source, token, start)

    def assignment(self, token: Token, start: int, end: int, source: str) -> EnvVar | None:
        """``NAME=value`` in ``token.text[start:end]`` as a variable; None when it is no
        assignment. A value with an expansion is set, value unknown here."""
        text = token.text[start:end]
        name, equals, value = text.partition("=")
        if not equals or not _NAME.match(name):
            return None
        name_word = Word(name, token_span(self.source, token, start))
        if token.origins and start + len(name) <= len(token.origins):
            origins = token.origins[start : start + len(name)]
            name_word = Word(name, self.source.span(origins[0], origins[-1] + 1))
        value_start = start + len(name) + 1
        value_origins = token.origins[value_start:end] if token.origins else []
        value_span = (
            self.source.span(value_origins[0], value_origins[-1] + 1)
            if value_origins
            else name_word.span
        )
        symbolic = token.symbolic and "$" in value
        return EnvVar(name, Word(value, value_span, symbolic), name_word.span, source)

    def pairs(self, token: Token, offset: int, source: str, secret: bool = False) -> list[EnvVar]:
        """``K=V,K2=V2`` from ``token.text[offset:]``, gcloud's list syntax: a leading
        ``^D^`` makes ``D`` the separator (``^:^K=a,b:K2=c``)."""
        text = token.text
        separator = ","
        if text.startswith("^", offset):
            close = text.find("^", offset + 1)
            if close > offset + 1:
                separator = text[offset + 1 : close]
                offset = close + 1
        found: list[EnvVar] = []
        position = offset
        while position <= len(text):
            end = text.find(separator, position)
            end = len(text) if end < 0 else end
            var = self.assignment(token, position, end, source)
            if var is not None:
                if secret:
                    # `K=SECRET:VERSION`: the value lives in Secret Manager.
                    var = EnvVar(var.name, None, var.span, source, reference=True)
                found.append(var)
            position = end + len(separator)
        return found

    # -- commands ------------------------------------------------------------------------

    def command(self, words: list[Token]) -> None:
        index = 0
        while index < len(words) and words[index].is_assignment:
            index += 1
        words = words[index:]
        if not words:
            return
        program = basename(words[0].text)
        rest = [w.text for w in words[1:4]]
        if program == "gcloud":
            self.gcloud(words)
        elif program == "heroku" and rest[:1] == ["config:set"]:
            self.set_command(words, 2, HEROKU, "`heroku config:set`")
        elif program in ("fly", "flyctl") and rest[:2] == ["secrets", "set"]:
            self.set_command(words, 3, FLY, "`fly secrets set`", secret=True)
        elif program == "az" and rest[:3] == ["webapp", "config", "set"]:
            self.azure_startup(words)
        elif program == "az" and rest[:3] == ["webapp", "config", "appsettings"]:
            self.azure_settings(words)

    def gcloud(self, words: list[Token]) -> None:
        texts = [w.text for w in words]
        index = 1
        while index < len(texts) and texts[index] in ("beta", "alpha"):
            index += 1
        if texts[index : index + 2] == ["run", "deploy"]:
            deploy = True
            index += 2
        elif texts[index : index + 3] == ["run", "services", "update"]:
            deploy = False
            index += 3
        else:
            return
        name: Word | None = None
        env: list[EnvVar] = []
        sources: list[Word] = []
        source_dir: str | None = None
        timeout: Word | None = None
        while index < len(words):
            token = words[index]
            flag, equals, _ = token.text.partition("=")
            value: Token | None = None
            offset = 0
            if token.text.startswith("--") and equals:
                value, offset = token, len(flag) + 1
            elif token.text.startswith("--") and flag in _GCLOUD_VALUE_FLAGS:
                index += 1
                value = words[index] if index < len(words) else None
            elif not token.text.startswith("-") and name is None:
                name = self.word(token)
            index += 1
            if value is None:
                continue
            if flag in _ENV_FLAGS:
                env.extend(self.pairs(value, offset, f"`gcloud run` {flag}"))
            elif flag in _SECRET_FLAGS:
                env.extend(self.pairs(value, offset, f"`gcloud run` {flag}", secret=True))
            elif flag == "--env-vars-file":
                sources.append(self.word(value, offset))
            elif flag == "--source":
                source_dir = value.text[offset:]
            elif flag == "--timeout":
                timeout = self.word(value, offset)
        span = self.span(words).span
        if not deploy:
            self.facts.append(PlatformEnv(CLOUD_RUN, span, name, tuple(env), tuple(sources)))
            return
        self.facts.append(
            PlatformService(
                CLOUD_RUN,
                span,
                name=name,
                runs_files=self.built_from(source_dir),
                env=tuple(env),
                env_sources=tuple(sources),
                timeout=timeout,
            )
        )

    def built_from(self, directory: str | None) -> tuple[str, ...]:
        """The Dockerfile (else the Procfile, for Google's buildpacks) that
        ``--source DIR`` builds, relative to the scanned root. The command runs from
        the repository root in CI and usually in scripts; a script's own directory is
        the other candidate."""
        if directory is None or "$" in directory:
            return ()
        here = posixpath.dirname(self.source.path)
        bases = [directory] if here == "" else [directory, posixpath.join(here, directory)]
        return tuple(
            dict.fromkeys(
                posixpath.normpath(posixpath.join(base, name))
                for base in bases
                for name in ("Dockerfile", "Procfile")
            )
        )

    def set_command(
        self, words: list[Token], start: int, platform: str, label: str, secret: bool = False
    ) -> None:
        app: Word | None = None
        env: list[EnvVar] = []
        index = start
        while index < len(words):
            token = words[index]
            text = token.text
            if text in ("-a", "--app") and index + 1 < len(words):
                app = self.word(words[index + 1])
                index += 2
                continue
            if text.startswith("--app="):
                app = self.word(token, len("--app="))
            elif text in ("-r", "--remote", "-c", "--config"):
                index += 1
            elif not text.startswith("-"):
                var = self.assignment(token, 0, len(text), label)
                if var is not None:
                    if secret and var.value is not None and var.value.symbolic:
                        var = EnvVar(var.name, None, var.span, label, reference=True)
                    env.append(var)
            index += 1
        if env:
            self.facts.append(PlatformEnv(platform, self.span(words).span, app, tuple(env)))

    def _option(self, words: list[Token], *names: str) -> Token | None:
        for index, token in enumerate(words):
            flag, equals, _ = token.text.partition("=")
            if flag in names:
                if equals:
                    return Token(
                        token.text[len(flag) + 1 :],
                        token.origins[len(flag) + 1 :],
                        token.start,
                        token.end,
                        token.symbolic,
                        token.quoted,
                    )
                if index + 1 < len(words):
                    return words[index + 1]
        return None

    def azure_startup(self, words: list[Token]) -> None:
        startup = self._option(words, "--startup-file")
        if startup is None or not startup.text.strip():
            return
        name_token = self._option(words, "--name", "-n")
        name = self.word(name_token) if name_token is not None else None
        value = self.word(startup)
        if " " not in startup.text.strip() and not startup.symbolic:
            # A file of the deployed app (run from the app's root, /home/site/wwwroot).
            path = startup.text.strip().removeprefix("./")
            here = posixpath.dirname(self.source.path)
            files = (posixpath.normpath(path), posixpath.normpath(posixpath.join(here, path)))
            self.facts.append(
                PlatformService(
                    AZURE_APP_SERVICE,
                    value.span,
                    name=name,
                    runs_in=value.span,
                    runs_files=tuple(dict.fromkeys(files)),
                )
            )
            return
        context = CommandContext(
            self.source, "manifest", "Azure App Service startup command", self.deployment
        )
        self.facts.extend(find_in_script(context, startup.text, startup.origins))
        self.facts.append(
            PlatformService(AZURE_APP_SERVICE, value.span, name=name, runs_in=value.span)
        )

    def azure_settings(self, words: list[Token]) -> None:
        env: list[EnvVar] = []
        index = next((i for i, w in enumerate(words) if w.text == "--settings"), len(words))
        for token in words[index + 1 :]:
            if token.text.startswith("-"):
                break
            var = self.assignment(token, 0, len(token.text), "`az webapp config appsettings`")
            if var is not None:
                env.append(var)
        name_token = self._option(words, "--name", "-n")
        name = self.word(name_token) if name_token is not None else None
        if env:
            self.facts.append(
                PlatformEnv(AZURE_APP_SERVICE, self.span(words).span, name, tuple(env))
            )


def platform_commands(
    source: SourceFile,
    text: str,
    origins: list[int] | None = None,
    base: int = 0,
    carrier: str = "shell",
    deployment: bool = True,
) -> list[object]:
    """The platform facts of the commands in a piece of shell script."""
    if not _MENTIONS.search(text):
        return []
    scan = _Scan(source, carrier, deployment)
    for words in split_commands(text, origins, base):
        scan.command(words)
    return scan.facts


def platform_words(
    source: SourceFile, words: list[Token], carrier: str = "ci", deployment: bool = True
) -> list[object]:
    """The platform facts of one command given as words (a Cloud Build step's args)."""
    scan = _Scan(source, carrier, deployment)
    scan.command(words)
    return scan.facts


# A cheap test before the shell lexer runs: most scripts deploy nothing.
_MENTIONS = re.compile(r"\b(gcloud|heroku|flyctl|fly|az)\b")
