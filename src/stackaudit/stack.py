"""All facts of one run, and (as the model grows) the links between them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TypeVar

from stackaudit.config import Config
from stackaudit.facts.serve import ServeCommand

T = TypeVar("T")


class Stack:
    def __init__(self, facts: Iterable[object], config: Config | None = None) -> None:
        self.facts = list(facts)
        self.config = config or Config()

    def of(self, kind: type[T]) -> list[T]:
        return [fact for fact in self.facts if isinstance(fact, kind)]

    @cached_property
    def serve_commands(self) -> list[ServeCommand]:
        return self.of(ServeCommand)
