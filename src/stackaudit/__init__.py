"""stackaudit: a static auditor for Python web stacks seen as one deployment."""

__version__ = "0.1.0"

PROJECT_URL = "https://github.com/stackaudit/stackaudit"
RULES_URL = f"{PROJECT_URL}/blob/main/rules"


def rule_url(code: str) -> str:
    """The page of rule ``code`` (the SARIF ``helpUri``, the text report's ``see:``)."""
    return f"{RULES_URL}/{code}.md"
