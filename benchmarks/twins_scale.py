"""Movie twins at a large release's size: user_twins and its validation, built by dbt on a
generated release (the ml-latest preset: 330,975 users, 33.8M ratings), checked against the
exact top pairs of the whole release.

    python benchmarks/twins_scale.py [--preset ml-latest] [--ratings N] [--keep]

The build is `dbt build --select +twin_validation` (the staging it needs, user_movie_sets,
user_twins, twin_pair_correlations, twin_validation, and their tests). All pairs of 330k users
are too many to score, so the reference is exact_pairs_at_least: every pair whose Jaccard is at
least that of user_twins' last pair, found by prefix filtering over the same sets LSH hashed
(user_movie_sets' rule applied to the staged ratings). Those include the exact top N, whatever
LSH missed, so recall@N is exact.
At ml-latest's size the Jaccard of user_twins' 100th pair is low (0.18: the generated users'
sets overlap little), and the prefix-filtering candidates then pass any feasible cap. The
check falls back to a seeded sample of users (--sample-users): every pair with a sampled user
at or above that Jaccard, found exactly by a sparse product of the sample's sets with
everyone's, and the share of those pairs user_twins holds. Unbiased for recall over the
pairs at or above the threshold; with about 100 such pairs in all, a quarter of the users
sees a few dozen of them.
Prints the figures and writes them to benchmarks/results/twins_<preset>.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from measure import PROJECT, RESULTS, load, run_measured
from twins import defaults


def sampled_recall(
    users: np.ndarray, movies: np.ndarray, twins, threshold: float, sample_users: int, seed: int = 7
) -> str:
    """Every pair (s, v) with s in a seeded sample of users and Jaccard >= threshold, found
    exactly (the sample's rows of X times X^T, in blocks), and how many of them user_twins
    holds."""
    import scipy.sparse as sp

    started = time.perf_counter()
    user_ids, row = np.unique(users, return_inverse=True)
    _, col = np.unique(movies, return_inverse=True)
    x = sp.csr_matrix((np.ones(len(row), np.float32), (row, col)))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    xt = x.T.tocsr()
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(user_ids), min(sample_users, len(user_ids)), replace=False))
    exact = set()
    for start in range(0, len(sample), 500):
        rows = sample[start : start + 500]
        shared = (x[rows] @ xt).tocoo()
        a, b = rows[shared.row], shared.col
        jaccard = shared.data / (sizes[a] + sizes[b] - shared.data)
        keep = (jaccard >= threshold - 1e-6) & (a != b)
        exact |= {(min(p, q), max(p, q)) for p, q in zip(user_ids[a[keep]], user_ids[b[keep]])}
    found = {(min(a, b), max(a, b)) for a, b in twins[["user_a", "user_b"]].to_numpy()}
    hits = len(exact & found)
    return (
        f"sampled check (seed {seed}): {len(sample):,} of {len(user_ids):,} users; "
        f"{len(exact)} pairs with a sampled user at Jaccard >= {threshold:.4f}, {hits} of "
        f"them in user_twins: recall {hits / max(len(exact), 1):.3f}; "
        f"{time.perf_counter() - started:.0f} s"
    )


def bench_twins(
    preset: str, ratings: int | None, base: Path, keep: bool, sample_users: int = 80_000
) -> list[str]:
    from movielake.algorithms.twins import exact_pairs_at_least, recall_at
    from movielake.serving.lake import Lake

    home = base / f"twins-{preset}-{ratings or 'full'}"
    shutil.rmtree(home, ignore_errors=True)
    raw = home / "raw" / preset
    home.mkdir(parents=True)
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    bin_dir = Path(sys.executable).parent
    size = ["--ratings", str(ratings)] if ratings else []
    lines = [
        f"# python benchmarks/twins_scale.py --preset {preset}"
        + (f" --ratings {ratings}" if ratings else ""),
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"load before {load()}",
    ]

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    code, seconds, peak = run_measured(
        [str(bin_dir / "movielake"), "generate", "--preset", preset, *size, "--out", str(raw)],
        env,
        home / "generate.log",
    )
    if code:
        raise SystemExit(f"generate failed, see {home / 'generate.log'}")
    counts = json.loads((raw / "generated.json").read_text())["counts"]
    say(f"generated in {seconds:.0f} s (peak {peak / 2**20:.0f} MiB): {counts}")

    code, seconds, peak = run_measured(
        [
            str(bin_dir / "dbt"),
            "build",
            "--select",
            "+twin_validation",
            "--exclude-resource-type",
            "unit_test",
            "--project-dir",
            str(PROJECT),
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
            "--vars",
            json.dumps({"dataset": preset, "raw_dir": str(raw)}),
        ],
        env,
        home / "build.log",
    )
    results = json.loads((home / "target" / "run_results.json").read_text())["results"]
    say(
        f"dbt build --select +twin_validation {'ok' if code == 0 else 'FAILED'} in "
        f"{seconds:.0f} s, {len(results)} nodes, peak {peak / 2**30:.1f} GiB (PSS); "
        f"load after {load()}"
    )
    for r in sorted(results, key=lambda r: -r["execution_time"]):
        if r["unique_id"].startswith("model.") and r["execution_time"] >= 1.0:
            say(
                f"  {r['unique_id'].split('.')[-1]:<34} {r['execution_time']:8.1f} s  {r['status']}"
            )
    stats = re.findall(r"user_twins: .*", (home / "build.log").read_text())
    say(stats[-1] if stats else "user_twins printed no LSH figures")
    if code:
        say(f"build log: {home / 'build.log'}")
        return lines

    lake = Lake(None, home)
    twins = lake.read("user_twins", order_by="pair_rank")
    # user_movie_sets' rule, from the staged ratings (its vector column is a Spark type
    # the deltalake reader cannot open): each user's distinct movies, users with at least
    # twins_min_ratings of them
    ratings = lake.read("stg_movielens__ratings", columns=["user_id", "movie_id"])
    started = time.perf_counter()
    ratings = ratings.drop_duplicates()
    sizes = ratings.groupby("user_id")["movie_id"].transform("size")
    ratings = ratings[sizes >= max(1, int(defaults()["twins_min_ratings"]))]
    users, movies = ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy()
    sizes = ratings.groupby("user_id").size()
    del ratings
    threshold = float(twins["jaccard"].min())
    try:
        exact = exact_pairs_at_least(users, movies, threshold, len(twins))
    except ValueError as too_many:
        say(f"exact reference by prefix filtering not possible: {too_many}")
        say(sampled_recall(users, movies, twins, threshold, sample_users))
        exact = None
    if exact is not None:
        found = list(twins[["user_a", "user_b", "jaccard"]].itertuples(index=False, name=None))
        recall = recall_at(found, exact)
        say(
            f"exact reference (prefix filtering over {len(sizes):,} users' sets, {len(users):,} "
            f"movies in them, at Jaccard >= {threshold:.4f}): "
            f"{time.perf_counter() - started:.0f} s"
        )
        say(
            f"user_twins: {len(twins)} pairs, Jaccard {threshold:.4f} .. "
            f"{twins['jaccard'].max():.4f}; exact top-{len(exact)}: {exact[-1].jaccard:.4f} .. "
            f"{exact[0].jaccard:.4f}"
        )
        say(
            f"recall@{len(twins)} against the exact top pairs: {recall['recall']:.3f} "
            f"(tie-aware {recall['tie_aware_recall']:.3f})"
        )
    validation = lake.read("twin_validation")
    for row in validation.to_dict("records"):
        say(
            "twin_validation: "
            + ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
            )
        )
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="ml-latest")
    parser.add_argument(
        "--ratings",
        type=int,
        default=None,
        help="scale the preset to this many ratings (default: its own size)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data home")
    parser.add_argument(
        "--sample-users",
        type=int,
        default=80_000,
        help="users in the sampled check, when prefix filtering is too large",
    )
    args = parser.parse_args(argv)
    base = Path(os.environ.get("MOVIELAKE_HOME", PROJECT / ".lakehouse")) / "bench-scale"
    lines = bench_twins(args.preset, args.ratings, base, args.keep, args.sample_users)
    out = RESULTS / f"twins_{args.preset}{f'-{args.ratings}' if args.ratings else ''}.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
