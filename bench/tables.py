"""Markdown tables from benchmark results, for docs/performance.md.

    python -m bench.tables bench/results/<run>/results.json [--steps] [--ratios] [--big]
        [--storm] [--lever NAME]

``--steps`` prints every step as the benchmark printed it; ``--ratios`` the kafka/direct ratios;
``--big`` the big room per arm; ``--storm`` the join storm per arm; ``--lever`` one row per arm
for a lever table (best rate per round, p99 and CPU at each rate).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from .report import SERVER_SIDE, big_room, join_storm, server_cpu_per_1k, summarize


def _v(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def steps_table(results: list[dict]) -> str:
    head = (
        "| scn | server+layer | arm | web procs | round | rate | sent | delivered | expected "
        "| lost | dup "
        "| deliv/s | p50 | p95 | p99 | max | CPU-s/1k: web | relay | redis | kafka | loadgen "
        "| other | ok |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        c = r["cpu_per_1k"]
        lines.append(
            f"| {r['scenario']} {r['n_rooms']}x{r['sockets_per_room']} "
            f"| {r['server']}+{r['layer']} "
            f"| {r['arm']} | {r.get('web_procs', 1)} | {r['round'] + 1} | {r['rate']:g} "
            f"| {r['sent']} | {r['delivered']} "
            f"| {r['expected']} | {r['lost']} | {r['duplicated']} | {r['deliveries_per_s']:.0f} "
            f"| {_v(r['p50_ms'])} | {_v(r['p95_ms'])} | {_v(r['p99_ms'])} | {_v(r['max_ms'])} "
            + " ".join(f"| {_v(c.get(k), 3)}" for k in (*SERVER_SIDE, "loadgen", "other"))
            + f" | {'yes' if r['passed'] else '**no**'} |"
        )
    return "\n".join(lines)


def _span(values, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (
        f"{statistics.fmean(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def ratios_table(results: list[dict]) -> str:
    lines = []
    for name, e in summarize(results).items():
        lines.append(
            f"\n**{name}** - best sustainable rate (msg/s, per round): "
            + ", ".join(f"{arm} {rates}" for arm, rates in e["best_rate"].items())
            + f"; kafka/direct {_span(e['best_rate_ratio'])}"
        )
        for h in e["half_rate_p99"]:
            lines.append(
                f"- round {h['round'] + 1}, {h['rate']:g} msg/s (<= half of direct's best): "
                f"p99 kafka {h['kafka_p99']} ms, direct {h['direct_p99']} ms, "
                f"difference {h['diff_ms']:+.1f} ms (target <= +20)"
            )
        lines.append("")
        lines.append(
            "| rate | kafka p99 ms | direct p99 ms | deliv/s ratio | p99 ratio "
            "| server CPU/1k kafka | direct | ratio | web CPU/1k ratio |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for rate, pr in e["per_rate"].items():
            k, d, r = pr.get("kafka", {}), pr.get("direct", {}), pr.get("kafka/direct", {})
            lines.append(
                f"| {rate:g} | {_span(k.get('p99_ms', []), 1)} | {_span(d.get('p99_ms', []), 1)} "
                f"| {_span(r.get('deliveries_per_s', []))} | {_span(r.get('p99_ms', []))} "
                f"| {_span(k.get('server_cpu_per_1k', []), 3)} "
                f"| {_span(d.get('server_cpu_per_1k', []), 3)} "
                f"| {_span(r.get('server_cpu_per_1k', []))} "
                f"| {_span(r.get('web_cpu_per_1k', []))} |"
            )
    return "\n".join(lines)


def big_table(results: list[dict]) -> str:
    lines = [
        "| big room | web CPU-s / 1k deliveries | server CPU-s / 1k | p99 ms | lost "
        "| deliveries/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, e in big_room(results).items():
        lines.append(
            f"| {name} | {_span(e['web_cpu_per_1k'], 3)} | {_span(e['server_cpu_per_1k'], 3)} "
            f"| {_span(e['p99_ms'], 1)} | {', '.join(map(str, e['lost']))} "
            f"| {_span(e['deliveries_per_s'], 0)} |"
        )
    return "\n".join(lines)


def storm_table(results: list[dict]) -> str:
    lines = [
        "| join storm | joined | last accepted (s) | lost | chat p99 ms "
        "| room.presence max / socket-second | shortest gap ms | room.presence frames "
        "| web CPU-s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in join_storm(results).items():
        lines.append(
            f"| {name} | {', '.join(e['joined'])} | {_span(e['last_accepted_s'], 1)} "
            f"| {', '.join(map(str, e['lost']))} | {_span(e['p99_ms'], 1)} "
            f"| {', '.join(map(str, e['presence_max_per_socket_s']))} "
            f"| {', '.join(map(str, e['presence_min_gap_ms']))} "
            f"| {', '.join(map(str, e['presence_frames']))} | {_span(e['web_cpu_s'], 1)} |"
        )
    return "\n".join(lines)


def lever_row(results: list[dict], name: str, rate: float) -> str:
    """best rates (kafka, direct, ratio) and, at ``rate``, kafka p99 and CPU per 1k by process."""
    s = next(iter(summarize([r for r in results if r["scenario"] == "a"]).values()))
    by = defaultdict(list)
    for r in results:
        if r["scenario"] == "a" and r["rate"] == rate:
            by[r["arm"]].append(r)
    k = by.get("kafka", [])

    def cpu(proc):
        return _span([r["cpu_per_1k"].get(proc) for r in k], 3)

    return (
        f"| {name} | {s['best_rate']['kafka']} | {s['best_rate']['direct']} "
        f"| {_span(s['best_rate_ratio'])} | {_span([r['p99_ms'] for r in k], 1)} "
        f"| {_span([r['p99_ms'] for r in by.get('direct', [])], 1)} "
        f"| {cpu('web')} | {cpu('relay')} | {cpu('kafka')} "
        f"| {_span([server_cpu_per_1k(r) for r in k], 3)} |"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("results", type=Path)
    p.add_argument("--steps", action="store_true")
    p.add_argument("--ratios", action="store_true")
    p.add_argument("--big", action="store_true")
    p.add_argument("--storm", action="store_true")
    p.add_argument("--lever", default=None)
    p.add_argument("--rate", type=float, default=150)
    a = p.parse_args()
    results = json.loads(a.results.read_text())["results"]
    if a.steps:
        print(steps_table(results))
    if a.ratios:
        print(ratios_table(results))
    if a.big:
        print(big_table(results))
    if a.storm:
        print(storm_table(results))
    if a.lever:
        print(lever_row(results, a.lever, a.rate))


if __name__ == "__main__":
    main()
