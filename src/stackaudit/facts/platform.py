"""Hosting platforms as their files declare them: which processes a platform starts
(a Procfile's ``web`` line, App Engine's ``entrypoint:``, a Render service's
``startCommand``, the Dockerfile a ``fly.toml`` or ``gcloud run deploy --source``
builds, a Knative Service's containers), and the environment it gives them at deploy
time (``gcloud run deploy --set-env-vars``, Render ``envVars``, ``heroku config:set``,
``fly secrets set``...). What the platform does in front of the process (TLS, the
``X-Forwarded-*`` headers, its timeouts) is the model's: model/platforms.py."""

from __future__ import annotations

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word

# Platform keys (model/platforms.py holds what each one does in front of a process).
HEROKU = "heroku"
CLOUD_RUN = "cloud-run"
APP_ENGINE = "app-engine"
FLY = "fly"
RENDER = "render"
AZURE_APP_SERVICE = "azure-app-service"


class PlatformService(Struct, frozen=True):
    """One service a platform runs, and how to find the commands it starts.

    ``runs_in``: the commands written inside this span (a Procfile line, the
    ``entrypoint:`` scalar). ``runs_files``: files whose server command it starts (the
    final CMD of a Dockerfile it builds, a start script it names), candidates in order.
    ``runs_containers``: the container-key prefix of a Knative Service's containers
    (``ServeCommand.service`` up to the container name).

    ``env`` is what the platform sets for the process at deploy time (a value None:
    set, value unknown, e.g. a secret); ``env_sources`` are sources whose variable
    names are unknown here (``--env-vars-file``, a Render env group).
    ``http``/``tls``: whether the platform's router speaks HTTP to the process and
    terminates TLS for it, when the file decides (Fly ``handlers``); None: the
    platform's own behaviour. ``timeout``: a request timeout written in the file."""

    platform: str
    span: Span
    name: Word | None = None
    runs_in: Span | None = None
    runs_files: tuple[str, ...] = ()
    runs_containers: str = ""
    env: tuple[EnvVar, ...] = ()
    env_sources: tuple[Word, ...] = ()
    http: bool | None = None
    tls: bool | None = None
    timeout: Word | None = None


class PlatformEnv(Struct, frozen=True):
    """Variables a platform command sets on an app outside its deploy command
    (``heroku config:set K=V -a app``, ``fly secrets set K=V``, ``gcloud run services
    update NAME --update-env-vars``). ``app`` is None when the command names no app
    (the CLI then takes the app of the directory it runs in)."""

    platform: str
    span: Span
    app: Word | None
    env: tuple[EnvVar, ...] = ()
    env_sources: tuple[Word, ...] = ()
