"""Summarize a py-spy ``--format raw`` profile (what ``python -m bench --profile`` records).

    python -m bench.profile_summary bench/results/<run>/profiles/<file>.txt [top]

Prints the functions with the most samples on their own (self) and below them (inclusive).
"""

from __future__ import annotations

import sys
from collections import Counter


def _name(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``func (path/file.py)``: lines of one function merged."""
    head, sep, tail = frame.partition(" (")
    return f"{head} ({tail.rsplit(':', 1)[0]})" if sep else frame


def summarize(path: str, top: int = 25) -> str:
    own: Counter = Counter()
    below: Counter = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [_name(x) for x in stack.split(";")]
            own[frames[-1]] += n
            for frame in set(frames):
                below[frame] += n
    lines = [f"{total} samples", "-- self"]
    lines += [f"{100 * n / total:5.1f}% {f[:140]}" for f, n in own.most_common(top)]
    lines.append("-- inclusive")
    lines += [f"{100 * n / total:5.1f}% {f[:140]}" for f, n in below.most_common(top * 2)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
