"""Facts: small frozen records of what a file says, each knowing where it was written.

Extractors produce them; rules read them; nothing here touches a parser."""

from stackaudit.facts.common import EnvVar, ParseProblem, Word
from stackaudit.facts.cors import CorsPolicy, OriginPattern
from stackaudit.facts.serve import OptionUse, ServeCommand

__all__ = [
    "CorsPolicy",
    "EnvVar",
    "OptionUse",
    "OriginPattern",
    "ParseProblem",
    "ServeCommand",
    "Word",
]
