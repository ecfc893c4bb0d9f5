"""A longer fuzz run than the test suite's: mutate seed files of every kind (the
fixtures, the examples and ../shared/corpus/real) for a while and check that no
extractor raises and every position stays inside its file.

    python fuzz/run.py --seconds 300 [--seed 1]

Crashing inputs are written to fuzz/.work/crashes/ with the traceback beside them.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fuzzing import KIND_NAMES, check_invariants, extract_text, mutate, seeds  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    kinds = sorted(kind for kind in KIND_NAMES if kind in pool)
    crashes = REPO / "fuzz" / ".work" / "crashes"
    tried = failed = 0
    deadline = time.monotonic() + args.seconds
    with tempfile.TemporaryDirectory() as scratch:
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            text = mutate(rng.choice(pool[kind]), rng, edits=rng.choice((1, 3, 10, 40)))
            tried += 1
            try:
                check_invariants(extract_text(Path(scratch), kind, text), text)
            except Exception:
                failed += 1
                crashes.mkdir(parents=True, exist_ok=True)
                stem = crashes / f"{kind}-{tried}"
                stem.with_suffix(".input").write_text(text, encoding="utf-8", errors="surrogatepass")
                stem.with_suffix(".traceback").write_text(traceback.format_exc())
    print(f"inputs tried: {tried}; failures: {failed}; kinds: {', '.join(kinds)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
