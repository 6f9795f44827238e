"""Benchmark: `kb lint` (kb.lint) on a 50-page review, against plain regex tokenisation.

The review (~25,000 words) is built from the test drafts in tests/data/lint/ (Markdown,
LaTeX, plain text), repeated with varied numbers and filler prose between the claims, so it
has the claim density of a real survey section. Reported: the time to lint it (the catalog
index is built once per process and timed separately), and the ratio against a reference
measured in the same run: tokenising the same text with one regex (`\\w+|[^\\w\\s]`).

    python bench/lint.py [--words 25000] [--repeat 5]
"""

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "lint"
FILLER = (
    "Scaling laws summarise how the loss of a trained model changes with its size, its data and its compute. "
    "The fits are empirical and hold over the range of scales the authors measured, and extrapolation beyond that "
    "range should be treated with care. Differences in tokenizers, datasets and learning-rate schedules make the "
    "constants of different papers hard to compare directly, even when the functional forms agree. "
)


def build_review(words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = []
    for name in ("review.md", "survey.tex", "notes.txt"):
        lines += [ln for ln in (DATA / name).read_text().splitlines() if ln.strip()]
    out, count, section = [], 0, 0
    while count < words:
        section += 1
        out.append(f"\n## Section {section}\n")
        for ln in rng.sample(lines, k=min(12, len(lines))):
            # vary the numbers a little so the text is not a verbatim repetition
            ln = re.sub(r"(?<![\w.])(\d)\.(\d{2})(?!\d)", lambda m: f"{m.group(1)}.{(int(m.group(2)) + rng.choice((0, 0, 1))) % 100:02d}", ln)
            out.append(ln)
            out.append(FILLER)
            count += len(ln.split()) + len(FILLER.split())
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", type=int, default=25000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    text = build_review(args.words)
    n_words = len(text.split())

    t0 = time.perf_counter()
    from kb import lint

    lint._index()
    t_index = time.perf_counter() - t0

    lint_times, ref_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        findings = lint.lint_text(text, "review.md")
        lint_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tokens = re.findall(r"\w+|[^\w\s]", text)
        ref_times.append(time.perf_counter() - t0)
    t_lint, t_ref = statistics.median(lint_times), statistics.median(ref_times)
    summary = {}
    for f in findings:
        summary[f.verdict] = summary.get(f.verdict, 0) + 1
    print(f"review: {n_words} words, {len(text)} characters, {len(text.splitlines())} lines (~{n_words / 500:.0f} pages)")
    print(f"catalog index (once per process): {t_index * 1e3:.0f} ms")
    print(f"kb lint: {t_lint * 1e3:.0f} ms median of {args.repeat} ({n_words / t_lint:,.0f} words/s); findings {summary}")
    print(f"reference, regex tokenisation ({len(tokens)} tokens): {t_ref * 1e3:.1f} ms median")
    print(f"ratio lint / tokenisation: {t_lint / t_ref:.0f}x")


if __name__ == "__main__":
    main()
