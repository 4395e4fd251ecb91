"""Scale benchmark: the whole `dbt build` on generated releases of growing size.

For each size it generates an ml-20m-shaped release (`movielake generate --preset ml-20m
--ratings N`), runs the full `dbt build` (unit tests excluded) in a fresh data home, and
records every model's wall time (dbt's run_results.json), the build's peak memory (proportional
set size of the dbt process, its Spark JVM and Python workers, sampled twice a second), and
each model's test RMSE next to the generator's noise floor. It then prints the per-model
growth exponent (slope of log time against log ratings over the sizes run) and draws a log-log
plot.

    make bench-scale                                   # 100K and 1M ratings
    make bench-scale BENCH_ARGS="--sizes 100000 1000000 5000000 20000000"
    python benchmarks/bench_scale.py --sizes 1000000 --keep     # keep the data home
    python benchmarks/bench_scale.py --sizes 1000000 --twins-preset ml-latest  # and twins at
                                                         # 330k users (benchmarks/twins_scale.py)
    python benchmarks/bench_scale.py --home .lakehouse/bench-scale/ml-20m-1000000 \
        --select 'als_tuning+'          # one model and what follows, on a kept data home:
                                        # benchmarks/results/piece_<home>_<selection>.txt

Results accumulate in benchmarks/results/scale.json (one entry per size, the last run wins),
with scale.txt (the table) and scale.png (the plot) rewritten from all entries. A script that
prints figures, not a test; run it on an otherwise idle machine, and note the load it prints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from measure import PROJECT, RESULTS, load, run_measured


def metrics(env: dict) -> dict:
    """model_metrics and the selected tuning rows of the build in env's data home and schema
    prefix, read from the Delta tables without Spark (movielake.serving.lake)."""
    from movielake.serving.lake import Lake

    lake = Lake(env.get("MOVIELAKE_SCHEMA"), Path(env["MOVIELAKE_HOME"]))
    found = {
        "metrics": lake.read(
            "model_metrics",
            columns=["model", "split", "rmse", "mae", "precision_at_k", "ndcg_at_k"],
        ),
        "tuning": lake.read(
            "als_tuning",
            filters=[("selected", "=", True)],
            columns=["model", "rank", "reg_param", "fit_users", "fit_ratings", "fit_seconds"],
        ),
    }
    # NaN (no RMSE for a ranking-only model) becomes None, as JSON wants
    return {
        name: [
            {
                k: (
                    None
                    if isinstance(v, float) and math.isnan(v)
                    else v.item()
                    if hasattr(v, "item")
                    else v
                )
                for k, v in row.items()
            }
            for row in frame.to_dict("records")
        ]
        for name, frame in found.items()
    }


def bench_size(ratings: int, preset: str, base: Path, dbt_vars: dict, keep: bool) -> dict:
    home = base / f"{preset}-{ratings}"
    shutil.rmtree(home, ignore_errors=True)
    raw = home / "raw" / preset
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    movielake = str(Path(sys.executable).with_name("movielake"))
    dbt = str(Path(sys.executable).with_name("dbt"))
    home.mkdir(parents=True)
    print(f"\n== {ratings:,} ratings ({preset} shape); load {load()} ==", flush=True)
    code, gen_seconds, gen_peak = run_measured(
        [movielake, "generate", "--preset", preset, "--ratings", str(ratings), "--out", str(raw)],
        env,
        home / "generate.log",
    )
    if code:
        raise SystemExit(f"generate failed, see {home / 'generate.log'}")
    manifest = json.loads((raw / "generated.json").read_text())
    print(
        f"generated in {gen_seconds:.0f}s (peak {gen_peak / 2**20:.0f} MiB): "
        f"{manifest['counts']}; noise floor RMSE {manifest['noise_floor_rmse']:.4f}",
        flush=True,
    )
    load_before = load()
    code, build_seconds, build_peak = run_measured(
        [
            dbt,
            "build",
            "--exclude-resource-type",
            "unit_test",
            "--project-dir",
            str(PROJECT),
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
            "--vars",
            json.dumps({"dataset": preset, "raw_dir": str(raw), **dbt_vars}),
        ],
        env,
        home / "build.log",
    )
    results = json.loads((home / "target" / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }
    print(
        f"dbt build {'ok' if code == 0 else 'FAILED'} in {build_seconds:.0f}s, peak "
        f"{build_peak / 2**30:.1f} GiB; load before {load_before}, after {load()}",
        flush=True,
    )
    found = metrics(env) if code == 0 else {}
    entry = {
        "ratings": manifest["counts"]["ratings"],
        "users": manifest["counts"]["users"],
        "movies": manifest["counts"]["movies"],
        "preset": preset,
        "vars": dbt_vars,
        "generate_seconds": gen_seconds,
        "generate_peak_bytes": gen_peak,
        "build_ok": code == 0,
        "build_seconds": build_seconds,
        "build_peak_bytes": build_peak,
        "model_seconds": models,
        "noise_floor_rmse": manifest["noise_floor_rmse"],
        "rating_sd": manifest["rating_sd"],
        **found,
        "load_before": load_before,
        "load_after": load(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
    }
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    elif code:
        print(f"build log: {home / 'build.log'}")
    return entry


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def report(entries: list[dict]) -> str:
    entries = sorted((e for e in entries if e["build_ok"]), key=lambda e: e["ratings"])
    models = sorted(
        {m for e in entries for m in e["model_seconds"]},
        key=lambda m: -max(e["model_seconds"].get(m, 0) for e in entries),
    )
    head = f"{'model':32}" + "".join(f"{e['ratings']:>12,}" for e in entries) + "   exponent"
    lines = ["Wall seconds per model (dbt run_results), by ratings in the release", head]
    for name in models:
        points = [(e["ratings"], e["model_seconds"].get(name, 0.0)) for e in entries]
        k = slope(points)
        lines.append(
            f"{name:32}"
            + "".join(f"{s:12.1f}" for _, s in points)
            + (f"   {k:8.2f}" if k is not None else "")
        )
    for label, key, scale in (
        ("build wall seconds", "build_seconds", 1),
        ("build peak GiB", "build_peak_bytes", 2**30),
        ("generate seconds", "generate_seconds", 1),
    ):
        points = [(e["ratings"], e[key] / scale) for e in entries]
        k = slope(points)
        lines.append(
            f"{label:32}"
            + "".join(f"{v:12.1f}" for _, v in points)
            + (f"   {k:8.2f}" if k is not None else "")
        )
    lines += ["", "Test RMSE / noise floor (model refit on train + validation, scored on test)"]
    for e in entries:
        tests = {m["model"]: m for m in e.get("metrics", []) if m["split"] == "test"}
        parts = [
            f"{name} {m['rmse']:.4f} ({m['rmse'] / e['noise_floor_rmse']:.3f}x)"
            for name, m in sorted(tests.items())
            if m.get("rmse")
        ]
        lines.append(f"{e['ratings']:>12,}: floor {e['noise_floor_rmse']:.4f}; " + "; ".join(parts))
    lines += ["", "Runs"]
    for e in entries:
        lines.append(
            f"{e['ratings']:>12,} ratings, {e['users']:,} users, {e['movies']:,} "
            f"movies: {e['when']}, {e['machine']}, load before {e['load_before']} "
            f"after {e['load_after']}, vars {e['vars']}"
        )
    return "\n".join(lines) + "\n"


def plot(entries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = sorted((e for e in entries if e["build_ok"]), key=lambda e: e["ratings"])
    if not entries:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    x = [e["ratings"] for e in entries]
    ax.plot(x, [e["build_seconds"] for e in entries], "k-o", label="whole build")
    top = sorted(
        {m for e in entries for m in e["model_seconds"]},
        key=lambda m: -entries[-1]["model_seconds"].get(m, 0),
    )[:6]
    for name in top:
        ax.plot(x, [max(e["model_seconds"].get(name, 0), 0.1) for e in entries], "-o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ratings in the release")
    ax.set_ylabel("wall seconds")
    ax.set_title("MovieLake dbt build: wall time by release size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def bench_piece(home: Path, select: str, preset: str, dbt_vars: dict, command: str) -> int:
    """Time `dbt build -s select` on a data home kept by an earlier run (--keep): its release
    is read where that run generated it, every model outside the selection is already built.
    Minutes per change instead of a whole build; the result names commit, command and load."""
    raw = home / "raw" / preset
    if not (raw / "generated.json").is_file() or not (home / "target").is_dir():
        raise SystemExit(f"{home} is not a kept bench-scale data home (run with --keep first)")
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    dbt = str(Path(sys.executable).with_name("dbt"))
    load_before = load()
    code, seconds, peak = run_measured(
        [
            dbt,
            "build",
            "-s",
            select,
            "--exclude-resource-type",
            "unit_test",
            "--project-dir",
            str(PROJECT),
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
            "--vars",
            json.dumps({"dataset": preset, "raw_dir": str(raw), **dbt_vars}),
        ],
        env,
        home / "piece.log",
    )
    results = json.loads((home / "target" / "run_results.json").read_text())["results"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True
    ).stdout.strip()
    manifest = json.loads((raw / "generated.json").read_text())
    lines = [
        f"command: {command}",
        f"commit: {commit}",
        f"data home: {home} ({manifest['counts']['ratings']:,} ratings, {preset} shape)",
        f"dbt build -s {select}: {'ok' if code == 0 else 'FAILED'} in {seconds:.0f}s, "
        f"peak {peak / 2**30:.1f} GiB; load before {load_before}, after {load()}",
        "",
    ]
    lines += [
        f"{r['unique_id'].split('.')[-1]:48}{r['execution_time']:9.1f}s  {r['status']}"
        for r in sorted(results, key=lambda r: -r["execution_time"])[:40]
    ]
    text = "\n".join(lines) + "\n"
    name = f"piece_{home.name}_{select.replace('+', 'plus').replace(' ', '_')}.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(text)
    print(text)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, help="a data home kept by --keep: time only --select on it"
    )
    parser.add_argument("--select", help="with --home: dbt selection, e.g. 'als_tuning+'")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--preset", default="ml-20m")
    parser.add_argument("--vars", default="{}", help="extra dbt vars (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep each size's data home")
    parser.add_argument("--results", default=str(RESULTS / "scale.json"))
    parser.add_argument(
        "--twins-preset",
        metavar="NAME",
        help="then build the twins on this preset at its own size (ml-latest: "
        "330,975 users) and check them against the exact top pairs "
        "(benchmarks/twins_scale.py)",
    )
    args = parser.parse_args(argv)
    if args.home or args.select:
        if not (args.home and args.select):
            parser.error("--home and --select go together")
        command = "benchmarks/bench_scale.py " + " ".join(argv or sys.argv[1:])
        return bench_piece(args.home, args.select, args.preset, json.loads(args.vars), command)
    base = Path(os.environ.get("MOVIELAKE_HOME", PROJECT / ".lakehouse")) / "bench-scale"
    path = Path(args.results)
    entries = json.loads(path.read_text()) if path.is_file() else []
    for size in args.sizes:
        entry = bench_size(size, args.preset, base, json.loads(args.vars), args.keep)
        entries = [e for e in entries if e["ratings"] != entry["ratings"]] + [entry]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, indent=1) + "\n")
        text = report(entries)
        path.with_suffix(".txt").write_text(text)
        plot(entries, path.with_suffix(".png"))
        print(text)
    if args.twins_preset:
        from twins_scale import main as twins_main

        twins_main(["--preset", args.twins_preset] + (["--keep"] if args.keep else []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
