"""The deployment model: how the facts of every file fit together.

``stackaudit.facts`` holds plain records, one per thing a file says; this package holds
the resolution that needs several of them — compose projects merged, Kubernetes
Services matched to workloads, nginx includes followed, proxy routes linked to the
server processes they reach — and the ``Stack`` that rules ask. Arrows go one way:
extractors → facts ← model ← rules (a test checks the import graph)."""
