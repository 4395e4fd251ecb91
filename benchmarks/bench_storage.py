"""The same build with its warehouse on local files, the object store and HDFS, side by side in
one run: wall time, peak memory, ratio to local, and whether model_metrics agree (1e-4).
Optionally a generated release of --cluster-ratings ratings built on `movielake cluster` with
its files and warehouse on the object store.

    make bench-storage                                       # ml-latest-small on all three
    make bench-storage BENCH_ARGS="--stores local,s3 --cluster-ratings 1000000"
    make bench-storage BENCH_ARGS="--stores '' --cluster-ratings 1000000"   # that build only

The servers are the project's own (`movielake objectstore`, `movielake hdfs`), started in a
data home of the benchmark's and stopped after. Each build gets a fresh data home. Results:
benchmarks/results/storage_<dataset>.txt (and .json), with the commit, command and load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from measure import PROJECT, RESULTS, load, run_measured

BIN = Path(sys.executable).parent
METRICS = (
    "import json; from movielake.serving.lake import Lake; "
    "print('JSON' + Lake('movielake').read('model_metrics').to_json(orient='records'))"
)


def _servers(base: Path, stores: list[str]) -> dict[str, dict]:
    """Start the servers `stores` need in the benchmark's own data home; their client env."""
    os.environ["MOVIELAKE_HOME"] = str(base / "servers")
    envs: dict[str, dict] = {"local": {}}
    if "s3" in stores:
        from movielake.ops import objectstore

        info = objectstore.start()
        envs["s3"] = {
            **info["env"],
            "MOVIELAKE_WAREHOUSE": f"s3a://{info['bucket']}/bench/warehouse",
        }
    if "hdfs" in stores:
        from movielake.ops import hdfs

        info = hdfs.start()
        envs["hdfs"] = {"MOVIELAKE_WAREHOUSE": f"{info['address']}/bench/warehouse"}
    return envs


def _stop(stores: list[str]) -> None:
    from movielake.ops import hdfs, objectstore

    if "s3" in stores:
        objectstore.stop()
    if "hdfs" in stores:
        hdfs.stop()


def build(name: str, home: Path, store_env: dict, dbt_vars: dict, cluster: int = 0) -> dict:
    """One full build in a fresh data home; its wall time, peak memory and model_metrics."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOVIELAKE_WAREHOUSE"))}
    env.update(
        store_env,
        MOVIELAKE_HOME=str(home),
        MOVIELAKE_SCHEMA="movielake",
        DBT_PROFILES_DIR=str(PROJECT / "profiles"),
    )
    command = [
        str(BIN / "dbt"),
        "build",
        "--project-dir",
        str(PROJECT),
        "--target-path",
        str(home / "target"),
        "--log-path",
        str(home / "logs"),
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps(dbt_vars),
    ]
    if cluster:
        command = [str(BIN / "movielake"), "cluster", "--workers", str(cluster), "--", *command]
    before = load()
    print(f"storage: {name}: building (load {before})", flush=True)
    code, seconds, peak = run_measured(command, env, home / "build.log")
    entry = {
        "store": name,
        "ok": code == 0,
        "seconds": round(seconds, 1),
        "peak_gib": round(peak / 2**30, 2),
        "load_before": before,
        "load_after": load(),
        "warehouse": store_env.get("MOVIELAKE_WAREHOUSE", str(home / "spark-warehouse")),
    }
    if code == 0:
        out = subprocess.run(
            [sys.executable, "-c", METRICS], env=env, capture_output=True, text=True, check=True
        )
        entry["metrics"] = json.loads(
            next(x for x in out.stdout.splitlines() if x.startswith("JSON"))[4:]
        )
    print(
        f"storage: {name}: exit {code} in {seconds:.0f}s, peak {peak / 2**30:.1f} GiB", flush=True
    )
    return entry


def agree(a: list[dict], b: list[dict], tolerance: float = 1e-4) -> float:
    """The largest difference between two model_metrics tables (inf when rows differ)."""
    key = lambda r: (r["model"], r["split"])  # noqa: E731
    left, right = {key(r): r for r in a}, {key(r): r for r in b}
    if left.keys() != right.keys():
        return float("inf")
    worst = 0.0
    for k, row in left.items():
        for column in ("rmse", "mae", "precision_at_k", "ndcg_at_k", "map_at_k"):
            x, y = row.get(column), right[k].get(column)
            if (x is None) != (y is None):
                return float("inf")
            if x is not None:
                worst = max(worst, abs(x - y))
    return worst


def report(entries: list[dict], command: str) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True
    ).stdout.strip()
    local = next((e for e in entries if e["store"] == "local" and e["ok"]), None)
    lines = [
        f"command: {command}",
        f"commit: {commit}",
        f"machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "",
        f"{'build':28}{'wall s':>9}{'x local':>9}{'peak GiB':>10}{'metrics diff':>14}"
        "   load before -> after",
    ]
    for e in entries:
        ratio = f"{e['seconds'] / local['seconds']:.2f}" if local and e["ok"] else "-"
        diff = (
            f"{agree(local['metrics'], e['metrics']):.1e}"
            if local
            and e["ok"]
            and e["store"] != "local"
            and "metrics" in e
            and not e["store"].startswith("cluster")
            else "-"
        )
        lines.append(
            f"{e['store']:28}{e['seconds'] if e['ok'] else 'FAILED':>9}{ratio:>9}"
            f"{e['peak_gib']:>10}{diff:>14}   {e['load_before']} -> {e['load_after']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="local,s3,hdfs")
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument(
        "--cluster-ratings",
        type=int,
        default=0,
        help="also build a generated ml-20m-shaped release of this many "
        "ratings on a 2-worker cluster, files and warehouse on the store",
    )
    parser.add_argument("--base", default=str(PROJECT / ".lakehouse" / "bench-storage"))
    args = parser.parse_args(argv)
    stores = [s for s in args.stores.split(",") if s]  # --stores "": the cluster build only
    base = Path(args.base)
    envs = _servers(base, stores + (["s3"] if args.cluster_ratings else []))
    entries = []
    try:
        for store in stores:
            entries.append(build(store, base / store, envs[store], {"dataset": args.dataset}))
        if args.cluster_ratings:
            prefix = envs["s3"]["MOVIELAKE_WAREHOUSE"].removesuffix("/warehouse")
            raw = f"{prefix}/raw/ml-20m"
            started = time.perf_counter()
            subprocess.run(
                [
                    str(BIN / "movielake"),
                    "generate",
                    "--preset",
                    "ml-20m",
                    "--ratings",
                    str(args.cluster_ratings),
                    "--out",
                    raw,
                ],
                env={**os.environ, **envs["s3"]},
                check=True,
            )
            print(
                f"storage: generated {args.cluster_ratings:,} ratings to {raw} in "
                f"{time.perf_counter() - started:.0f}s",
                flush=True,
            )
            entries.append(
                build(
                    f"cluster-2w-s3 {args.cluster_ratings // 1000}K",
                    base / "cluster",
                    # its own warehouse: the s3 build's data home (its Derby metastore) owns
                    # bench/warehouse, and a second metastore there finds the first's tables
                    {**envs["s3"], "MOVIELAKE_WAREHOUSE": f"{prefix}/cluster-warehouse"},
                    {"dataset": "ml-20m", "raw_dir": raw},
                    cluster=2,
                )
            )
    finally:
        _stop(stores + (["s3"] if args.cluster_ratings else []))
    text = report(entries, "benchmarks/bench_storage.py " + " ".join(argv or sys.argv[1:]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = [args.dataset] if stores else []
    parts += [f"cluster{args.cluster_ratings}"] if args.cluster_ratings else []
    name = "storage_" + "_".join(parts)
    (RESULTS / f"{name}.txt").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(text)
    return 0 if all(e["ok"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
