"""stackaudit: a static auditor for Python web stacks seen as one deployment."""

__version__ = "0.1.0"
