"""Printing the figures, the kafka/direct ratios and the plots of a benchmark run."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections import defaultdict
from pathlib import Path

SERVER_SIDE = ("web", "relay", "redis", "kafka")
COLUMNS = (
    f"{'scn':<3} {'arm':<6} {'rd':>2} {'rate':>6} {'sent':>6} {'deliv':>7} {'expect':>7} "
    f"{'lost':>6} {'dup':>4} {'deliv/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  "
    f"cpu-s/1k deliveries: {'web':>5} {'relay':>5} {'redis':>5} {'kafka':>5} {'lgen':>5} "
    f"{'other':>5}  ok"
)


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    return info


def print_header() -> None:
    print(COLUMNS, flush=True)
    print("-" * len(COLUMNS), flush=True)


def _f(value, width, digits=1) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}.{digits}f}"


def print_row(r: dict) -> None:
    c = r["cpu_per_1k"]
    lost = r["lost"]
    note = "yes" if r["passed"] else "NO"
    errors = f" errors={r['errors']}" if r["errors"] else ""
    late = f" late={r['late_receipts']}" if r.get("late_receipts") else ""
    if r.get("disturbed"):
        late += f" DISTURBED ({r['disturbed']})"
    print(
        f"{r['scenario']:<3} {r['arm']:<6} {r['round'] + 1:>2} {r['rate']:>6g} {r['sent']:>6} "
        f"{r['delivered']:>7} {r['expected']:>7} {lost:>6} {r['duplicated']:>4} "
        f"{r['deliveries_per_s']:>8.0f} {_f(r['p50_ms'], 7)} {_f(r['p95_ms'], 7)} "
        f"{_f(r['p99_ms'], 7)} {_f(r['max_ms'], 7)}  {'':>21}"
        f"{_f(c.get('web'), 5, 3)} {_f(c.get('relay'), 5, 3)} {_f(c.get('redis'), 5, 3)} "
        f"{_f(c.get('kafka'), 5, 3)} {_f(c.get('loadgen'), 5, 3)} {_f(c.get('other'), 5, 3)}"
        f"  {note}{errors}{late}",
        flush=True,
    )


def app_cpu_per_1k(r: dict) -> float:
    """The arm's own processes: web + relay for kafka, web for direct (which needs no relay).

    Kafka and Redis are left out: they are shared with other users of the machine.
    """
    relay = r["cpu_per_1k"].get("relay", 0.0) if r["arm"] == "kafka" else 0.0
    return r["cpu_per_1k"].get("web", 0.0) + relay


def on_time_per_s(r: dict, limit_ms: float = 250.0) -> float:
    """Deliveries per second that arrived within ``limit_ms`` (from the step's latency CDF)."""
    cdf = r.get("latency_cdf_ms")
    if not cdf:
        return 0.0
    below = sum(1 for v in cdf if v <= limit_ms) / len(cdf)
    return below * r["delivered"] / r["duration"]


def server_cpu_per_1k(r: dict) -> float:
    return sum(r["cpu_per_1k"].get(k, 0.0) for k in SERVER_SIDE)


def _span(values: list[float], digits: int = 2) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    mean = statistics.fmean(values)
    return f"{mean:.{digits}f} (min {lo:.{digits}f} - max {hi:.{digits}f})"


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def summarize(results: list[dict]) -> dict:
    """Per configuration: each arm's best rate per round, the ratios, the half-rate p99 check."""
    out: dict = {}
    configs = defaultdict(list)
    for r in results:
        key = (r["scenario"], r["server"], r["layer"], r["sockets_per_room"], r["n_rooms"])
        configs[key].append(r)
    for (scenario, server, layer, spr, n_rooms), rows in configs.items():
        name = f"{scenario} {server}+{layer} {n_rooms}x{spr}"
        by = defaultdict(dict)  # (arm, round) -> rate -> row
        for r in rows:
            by[(r["arm"], r["round"])][r["rate"]] = r
        rounds = sorted({r["round"] for r in rows})
        rates = sorted({r["rate"] for r in rows})
        entry: dict = {
            "scenario": scenario,
            "server": server,
            "layer": layer,
            "rooms": n_rooms,
            "sockets_per_room": spr,
            "per_rate": {},
        }

        def best(arm, rd, by=by):
            ok = [rate for rate, r in by[(arm, rd)].items() if r["passed"]]
            return max(ok) if ok else 0.0

        entry["best_rate"] = {arm: [best(arm, rd) for rd in rounds] for arm in ("kafka", "direct")}
        entry["best_rate_ratio"] = [_ratio(best("kafka", rd), best("direct", rd)) for rd in rounds]
        # the p99 target: at half the direct arm's best rate (the highest tested rate <= half)
        half = []
        for rd in rounds:
            target = best("direct", rd) / 2
            tested = [
                x
                for x in rates
                if x <= target and x in by[("kafka", rd)] and x in by[("direct", rd)]
            ]
            if tested:
                x = max(tested)
                k, d = by[("kafka", rd)][x], by[("direct", rd)][x]
                if k["p99_ms"] is not None and d["p99_ms"] is not None:
                    half.append(
                        {
                            "round": rd,
                            "rate": x,
                            "kafka_p99": k["p99_ms"],
                            "direct_p99": d["p99_ms"],
                            "diff_ms": round(k["p99_ms"] - d["p99_ms"], 2),
                        }
                    )
        entry["half_rate_p99"] = half
        for rate in rates:
            pr = {}
            for arm in ("kafka", "direct"):
                arm_rows = [by[(arm, rd)][rate] for rd in rounds if rate in by[(arm, rd)]]
                if not arm_rows:
                    continue
                pr[arm] = {
                    "rounds": len(arm_rows),
                    "lost": [r["lost"] for r in arm_rows],
                    "deliveries_per_s": [r["deliveries_per_s"] for r in arm_rows],
                    "p50_ms": [r["p50_ms"] for r in arm_rows],
                    "p99_ms": [r["p99_ms"] for r in arm_rows],
                    "server_cpu_per_1k": [round(server_cpu_per_1k(r), 4) for r in arm_rows],
                    "web_cpu_per_1k": [r["cpu_per_1k"].get("web") for r in arm_rows],
                }
            ratios = {}
            paired = [
                rd for rd in rounds if rate in by[("kafka", rd)] and rate in by[("direct", rd)]
            ]
            if paired:
                for field, get in (
                    ("deliveries_per_s", lambda r: r["deliveries_per_s"]),
                    ("p99_ms", lambda r: r["p99_ms"]),
                    ("server_cpu_per_1k", server_cpu_per_1k),
                    ("web_cpu_per_1k", lambda r: r["cpu_per_1k"].get("web")),
                ):
                    ratios[field] = [
                        _ratio(get(by[("kafka", rd)][rate]), get(by[("direct", rd)][rate]))
                        for rd in paired
                    ]
            pr["kafka/direct"] = ratios
            entry["per_rate"][rate] = pr
        out[name] = entry
    return out


def print_summary(results: list[dict], args) -> dict:
    summary = summarize(results)
    print("\n== kafka/direct ratios (mean, min - max over rounds)")
    for name, e in summary.items():
        print(f"\n-- {name}")
        print(
            f"   best sustainable rate (0 loss, p99 < {args.p99_limit:g} ms): "
            f"kafka {e['best_rate']['kafka']}, direct {e['best_rate']['direct']}; "
            f"ratio {_span(e['best_rate_ratio'])}"
        )
        for h in e["half_rate_p99"]:
            print(
                f"   round {h['round'] + 1}: at {h['rate']:g} msg/s (<= half direct's best) "
                f"p99 kafka {h['kafka_p99']} ms vs direct {h['direct_p99']} ms: "
                f"diff {h['diff_ms']:+.1f} ms (target <= +20)"
            )
        for rate, pr in e["per_rate"].items():
            r = pr.get("kafka/direct", {})
            if not r:
                continue
            print(
                f"   {rate:>6g} msg/s: deliveries/s {_span(r['deliveries_per_s'])}; "
                f"p99 {_span(r['p99_ms'])}; server CPU/1k {_span(r['server_cpu_per_1k'])}; "
                f"web CPU/1k {_span(r['web_cpu_per_1k'])}"
            )
    fan = [r for r in results if r["scenario"] == "b"]
    if fan:
        print("\n== fan-out: server-side CPU-s per 1,000 deliveries by sockets in the room")
        rows = defaultdict(list)
        for r in fan:
            rows[(r["server"], r["layer"], r["arm"], r["rate"], r["sockets_per_room"])].append(r)
        for (server, layer, arm, rate, n), rs in sorted(rows.items()):
            print(
                f"   {server}+{layer} {arm:<6} {rate:>5g} msg/s x {n:>4} sockets: "
                f"CPU/1k {_span([server_cpu_per_1k(r) for r in rs], 3)}, "
                f"p99 {_span([r['p99_ms'] for r in rs], 1)} ms, "
                f"lost {[r['lost'] for r in rs]}"
            )
    return summary


def plots(results: list[dict], out: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a step with no receipts: NaN
        _plots(results, out)


def _plots(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    style = {"kafka": "-", "direct": "--"}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    groups = defaultdict(list)
    for r in results:
        key = (r["scenario"], r["server"], r["layer"], r["n_rooms"], r["sockets_per_room"])
        groups[key].append(r)
    keys = sorted(groups)
    if not keys:
        return

    # 1. latency CDFs, both arms, every tested rate (quantiles averaged over rounds)
    ncols = min(2, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 4.5 * nrows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        rows = groups[key]
        rates = sorted({r["rate"] for r in rows})
        for i, rate in enumerate(rates):
            for arm in ("kafka", "direct"):
                cdfs = [
                    r["latency_cdf_ms"]
                    for r in rows
                    if r["arm"] == arm and r["rate"] == rate and r["latency_cdf_ms"]
                ]
                if not cdfs:
                    continue
                q = np.mean(np.array(cdfs), axis=0)
                y = np.linspace(0, 1, len(q))
                lost = sum(r["lost"] for r in rows if r["arm"] == arm and r["rate"] == rate)
                label = f"{arm} {rate:g}/s" + (f" (lost {lost})" if lost else "")
                ax.plot(
                    np.maximum(q, 0.1), y, style[arm], color=colors[i % len(colors)], label=label
                )
        ax.set_xscale("log")
        ax.set_xlabel("latency, scheduled send → receipt (ms)")
        ax.set_ylabel("fraction of deliveries")
        ax.axvline(250, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{key[0]}: {key[3]}x{key[4]} sockets, {key[1]}+{key[2]}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "latency_cdf.png", dpi=90)
    plt.close(fig)

    # 2. on-time throughput, p99 and CPU per delivery against the offered rate
    metrics = (
        ("deliveries/s within 250 ms", on_time_per_s, False),
        ("p99 latency (ms)", lambda r: r["p99_ms"] or np.nan, True),
        ("app CPU-s per 1,000 deliveries\n(kafka: web+relay, direct: web)", app_cpu_per_1k, False),
    )
    fig, axes = plt.subplots(len(metrics), len(keys), figsize=(5 * len(keys), 10), squeeze=False)
    for col, key in enumerate(keys):
        rows = groups[key]
        for arm in ("kafka", "direct"):
            rates = sorted({r["rate"] for r in rows if r["arm"] == arm})
            for row, (_, get, _) in enumerate(metrics):
                mean, lo, hi = [], [], []
                for rate in rates:
                    v = [get(r) for r in rows if r["arm"] == arm and r["rate"] == rate]
                    mean.append(np.nanmean(v)), lo.append(np.nanmin(v)), hi.append(np.nanmax(v))
                if not rates:
                    continue
                mean = np.array(mean)
                axes[row][col].errorbar(
                    rates,
                    mean,
                    yerr=[mean - np.array(lo), np.array(hi) - mean],
                    fmt="o" + style[arm],
                    label=arm,
                    capsize=3,
                )
        all_rates = sorted({r["rate"] for r in rows})
        axes[0][col].plot(
            all_rates,
            [x * key[4] for x in all_rates],  # every socket of the room receives each message
            ":",
            color="grey",
            label="offered x sockets/room",
        )
        axes[0][col].set_title(f"{key[0]}: {key[3]}x{key[4]}, {key[1]}+{key[2]}", fontsize=10)
        axes[1][col].axhline(250, color="grey", lw=0.8, ls=":")
        for row, (label, _, log) in enumerate(metrics):
            axes[row][col].set_ylabel(label)
            if log:
                axes[row][col].set_yscale("log")
            axes[row][col].set_xlabel("offered rate (msg/s)")
            axes[row][col].grid(alpha=0.3)
            axes[row][col].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=90)
    plt.close(fig)

    # 3. fan-out: CPU per delivery against the number of sockets in the room
    fan = [r for r in results if r["scenario"] == "b"]
    if len({r["sockets_per_room"] for r in fan}) > 1:
        configs = sorted({(r["server"], r["layer"]) for r in fan})
        fig, axes = plt.subplots(1, len(configs), figsize=(6 * len(configs), 4.5), squeeze=False)
        for ax, (server, layer) in zip(axes[0], configs, strict=True):
            rows = [r for r in fan if (r["server"], r["layer"]) == (server, layer)]
            targets = sorted({round(r["rate"] * r["sockets_per_room"]) for r in rows})
            for i, target in enumerate(targets):
                for arm in ("kafka", "direct"):
                    sizes = sorted({r["sockets_per_room"] for r in rows})
                    ys = []
                    for n in sizes:
                        v = [
                            app_cpu_per_1k(r)
                            for r in rows
                            if r["arm"] == arm
                            and r["sockets_per_room"] == n
                            and round(r["rate"] * n) == target
                        ]
                        ys.append(np.mean(v) if v else np.nan)
                    ax.plot(sizes, ys, "o" + style[arm], color=colors[i % len(colors)],
                            label=f"{arm}, {target} deliveries/s offered")  # fmt: skip
            ax.set_xlabel("sockets in the room")
            ax.set_ylabel("app CPU-s per 1,000 deliveries\n(kafka: web+relay, direct: web)")
            ax.set_title(f"b: fan-out, {server}+{layer}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "fanout.png", dpi=90)
        plt.close(fig)


def write_summary(results: list[dict], args, out: Path) -> dict:
    summary = print_summary(results, args)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
