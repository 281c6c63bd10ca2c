"""Printing the figures, the kafka/direct ratios, the big room and join storm, and the plots."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections import defaultdict
from pathlib import Path

SERVER_SIDE = ("web", "relay", "redis", "kafka")
COLUMNS = (
    f"{'scn':<5} {'arm':<6} {'wp':>2} {'rd':>2} {'rate':>6} {'sent':>6} {'deliv':>7} {'expect':>7} "
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
    if r.get("presence_frames") and r["scenario"] != "storm":
        late += f" room.presence={r['presence_frames']}"
    if r.get("disturbed"):
        late += f" DISTURBED ({r['disturbed']})"
    print(
        f"{r['scenario']:<5} {r['arm']:<6} {r.get('web_procs', 1):>2} {r['round'] + 1:>2} "
        f"{r['rate']:>6g} {r['sent']:>6} "
        f"{r['delivered']:>7} {r['expected']:>7} {lost:>6} {r['duplicated']:>4} "
        f"{r['deliveries_per_s']:>8.0f} {_f(r['p50_ms'], 7)} {_f(r['p95_ms'], 7)} "
        f"{_f(r['p99_ms'], 7)} {_f(r['max_ms'], 7)}  {'':>21}"
        f"{_f(c.get('web'), 5, 3)} {_f(c.get('relay'), 5, 3)} {_f(c.get('redis'), 5, 3)} "
        f"{_f(c.get('kafka'), 5, 3)} {_f(c.get('loadgen'), 5, 3)} {_f(c.get('other'), 5, 3)}"
        f"  {note}{errors}{late}",
        flush=True,
    )
    if "storm" in r:
        s = r["storm"]
        print(
            f"      storm: {s['connected']}/{s['sockets']} joined ({s['failed']} failed; attempts "
            f"that failed: {s.get('failed_attempts') or 0}), the last "
            f"accepted {s['connect_span_s']} s after the first join (handshake p50 "
            f"{s['handshake_p50_ms']} / p99 {s['handshake_p99_ms']} ms); room.presence: "
            f"{r['presence_frames']} frames, at most {r['presence_max_1s']} to one socket in "
            f"one second (the shortest gap between two: {r.get('presence_min_gap_ms')} ms); "
            f"{r['before_join']} chat frames sent before their socket joined",
            flush=True,
        )


def app_cpu_per_1k(r: dict) -> float:
    """The arm's own processes: web + relay for kafka, web for direct (which needs no relay)
    and floor (its web is the raw broadcast server).

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
        if r["scenario"] not in ("a", "b"):
            continue  # (big and storm: big_room and join_storm)
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

        arms = ["kafka", "direct"] + (["floor"] if any(a == "floor" for a, _ in by) else [])
        entry["best_rate"] = {arm: [best(arm, rd) for rd in rounds] for arm in arms}
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
            for arm in ("kafka", "direct", "floor"):
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


def _config(r: dict) -> str:
    return f"{r['server']}+{r['layer']} {r['arm']} x{r.get('web_procs', 1)}"


def big_room(results: list[dict]) -> dict:
    """Per server, layer, arm and web processes: the big room's figures over rounds."""
    out = defaultdict(list)
    for r in results:
        if r["scenario"] == "big":
            out[f"{_config(r)} 1x{r['sockets_per_room']} {r['rate']:g}/s"].append(r)
    return {
        name: {
            "web_cpu_per_1k": [r["cpu_per_1k"].get("web") for r in rows],
            "server_cpu_per_1k": [round(server_cpu_per_1k(r), 4) for r in rows],
            "p99_ms": [r["p99_ms"] for r in rows],
            "lost": [r["lost"] for r in rows],
            "deliveries_per_s": [r["deliveries_per_s"] for r in rows],
        }
        for name, rows in out.items()
    }


def join_storm(results: list[dict]) -> dict:
    out = defaultdict(list)
    for r in results:
        if r["scenario"] == "storm":
            out[_config(r)].append(r)
    return {
        name: {
            "joined": [f"{r['storm']['connected']}/{r['storm']['sockets']}" for r in rows],
            "last_accepted_s": [r["storm"]["connect_span_s"] for r in rows],
            "lost": [r["lost"] for r in rows],
            "p99_ms": [r["p99_ms"] for r in rows],
            "presence_max_per_socket_s": [r["presence_max_1s"] for r in rows],
            "presence_min_gap_ms": [r.get("presence_min_gap_ms") for r in rows],
            "presence_frames": [r["presence_frames"] for r in rows],
            "web_cpu_s": [r["cpu_s"].get("web") for r in rows],
        }
        for name, rows in out.items()
    }


def print_summary(results: list[dict], args) -> dict:
    summary = summarize(results)
    big, storm = big_room(results), join_storm(results)
    if big:
        print("\n== big room (target: web CPU-s per 1k deliveries <= 0.06, 0 lost, p99 < 250 ms)")
        for name, e in big.items():
            print(
                f"   {name}: web CPU/1k {_span(e['web_cpu_per_1k'], 3)}, "
                f"p99 {_span(e['p99_ms'], 1)} ms, lost {e['lost']}, "
                f"deliveries/s {_span(e['deliveries_per_s'], 0)}"
            )
    if storm:
        print(
            f"\n== join storm (targets: all accepted within {args.storm_connect_limit:g} s, "
            f"0 lost, chat p99 < {args.storm_p99_limit:g} ms, <= 1 room.presence per socket-second)"
        )
        for name, e in storm.items():
            print(
                f"   {name}: joined {e['joined']}, the last accepted after "
                f"{e['last_accepted_s']} s; "
                f"lost {e['lost']}; chat p99 {e['p99_ms']} ms; room.presence at most "
                f"{e['presence_max_per_socket_s']} per socket-second (shortest gap "
                f"{e['presence_min_gap_ms']} ms), {e['presence_frames']} frames in all; "
                f"web CPU-s {e['web_cpu_s']}"
            )
    if not summary:
        return {"big_room": big, "join_storm": storm}
    print("\n== kafka/direct ratios (mean, min - max over rounds)")
    for name, e in summary.items():
        print(f"\n-- {name}")
        print(
            f"   best sustainable rate (0 loss, p99 < {args.p99_limit:g} ms): "
            + ", ".join(f"{arm} {rates}" for arm, rates in e["best_rate"].items())
            + f"; kafka/direct {_span(e['best_rate_ratio'])}"
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
    return {**summary, "big_room": big, "join_storm": storm}


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

    style = {"kafka": "-", "direct": "--", "floor": "-."}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    _big_plot(results, out, plt)
    _storm_plot(results, out, plt)
    groups = defaultdict(list)
    for r in results:
        if r["scenario"] == "storm":
            continue
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
            for arm in style:
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
        ("app CPU-s per 1,000 deliveries\n(kafka: web+relay, others: web)", app_cpu_per_1k, False),
    )
    fig, axes = plt.subplots(len(metrics), len(keys), figsize=(5 * len(keys), 10), squeeze=False)
    for col, key in enumerate(keys):
        rows = groups[key]
        for arm in style:
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
                    color=f"C{list(style).index(arm)}",
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
                for arm in style:
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
            ax.set_ylabel("app CPU-s per 1,000 deliveries\n(kafka: web+relay, others: web)")
            ax.set_title(f"b: fan-out, {server}+{layer}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "fanout.png", dpi=90)
        plt.close(fig)


def _big_plot(results: list[dict], out: Path, plt) -> None:
    """big.png: web CPU-s per 1,000 deliveries per arm (rounds' mean, min-max), p99 and loss."""
    big = big_room(results)
    if not big:
        return
    names = list(big)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names)), 4.5))
    top = 0.06
    for i, name in enumerate(names):
        e = big[name]
        v = [x for x in e["web_cpu_per_1k"] if x is not None]
        mean = sum(v) / len(v)
        ax.bar(i, mean, yerr=[[mean - min(v)], [max(v) - mean]], capsize=4, color=f"C{i}")
        top = max(top, max(v))
        p99 = max((x for x in e["p99_ms"] if x is not None), default=None)
        note = f"p99 {p99:.0f} ms" if p99 is not None else "no receipts"
        ax.annotate(f"{note}\nlost {max(e['lost'])}", (i, mean), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 4), textcoords="offset points")  # fmt: skip
    ax.axhline(0.06, color="grey", lw=0.8, ls=":", label="target 0.06")
    ax.set_ylim(0, top * 1.3)  # room for the notes
    ax.set_xticks(range(len(names)), [n.replace(" 1x", "\n1x") for n in names], fontsize=7)
    ax.set_ylabel("web CPU-s per 1,000 deliveries")
    ax.set_title("big room: one room, every socket receives every message", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "big.png", dpi=90)
    plt.close(fig)


def _storm_plot(results: list[dict], out: Path, plt) -> None:
    """storm.png: per arm, sockets accepted per second and room.presence frames per second
    (all sockets), against the line of one frame per open socket per second (the target)."""
    rows = [r for r in results if r["scenario"] == "storm"]
    if not rows:
        return
    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for i, r in enumerate(rows):
        s = r["storm"]
        label = f"{_config(r)} round {r['round'] + 1}"
        t = list(range(len(s["accepted_per_s"])))
        axes[0].step(t, s["accepted_per_s"], where="post", color=f"C{i}", label=label)
        if r["presence_frames"]:  # (the floor sends none)
            presence = [max(x, 0.5) for x in s["presence_per_s"]]  # (log scale: 0 drawn low)
            axes[1].step(t, presence, where="post", color=f"C{i}", label=label)
        open_sockets, total = [], r["sockets_per_room"] - s["sockets"]
        for n in s["accepted_per_s"]:
            total += n
            open_sockets.append(total)
        axes[1].plot(t, open_sockets, ":", color=f"C{i}", lw=0.8, label=f"{label}: open sockets")
    axes[0].set_ylabel("sockets accepted per second")
    axes[0].set_title("join storm (from the first join)", fontsize=10)
    axes[1].set_ylabel("room.presence frames per second\n(all sockets)")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("seconds since the first join")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "storm.png", dpi=90)
    plt.close(fig)


def write_summary(results: list[dict], args, out: Path) -> dict:
    summary = print_summary(results, args)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
