"""ALS fit time with the system's native BLAS/LAPACK against Spark's Java fallback.

Spark MLlib (through dev.ludovic.netlib) loads libblas.so.3 / liblapack.so.3 when the system
has them (`make native-blas` installs Debian's OpenBLAS) and falls back to Java otherwise. This
fits the same ALS (explicit, 10 iterations, 2 x 2 blocks) at each rank on a fixed sample of a
built data home's staged ratings (users whose id is a multiple of `--every`), once per
backend, each in its own Spark session, and prints the backend in use and the seconds per fit.

    python benchmarks/als_blas.py --home <data home of a build> [--every 10] [--ranks 16 64 16]

A script that prints figures, not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


# Naming a library that does not exist makes netlib fall back to its Java implementation.
def java(*libs: str) -> str:
    return " ".join(f"-Ddev.ludovic.netlib.{lib}.nativeLib=libnot-installed.so" for lib in libs)


BACKENDS = {"native": "", "java-blas": java("blas"), "java": java("blas", "lapack", "arpack")}


def fits(backend: str, every: int, ranks: list[int]) -> None:
    """In this process: one Spark session, the sample cached, one fit per rank."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    from movielake.serving.lake import Lake
    from movielake.spark.session import prepare_environment, session_conf

    prepare_environment()
    conf = session_conf()
    conf["spark.driver.extraJavaOptions"] = (
        conf.get("spark.driver.extraJavaOptions", "") + " " + BACKENDS[backend]
    ).strip()
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    netlib = spark._jvm.dev.ludovic.netlib
    print(
        f"{backend}: BLAS {netlib.blas.BLAS.getInstance().getClass().getSimpleName()}, "
        f"LAPACK {netlib.lapack.LAPACK.getInstance().getClass().getSimpleName()}",
        flush=True,
    )
    ratings = (
        spark.table(Lake().name("stg_movielens__ratings"))
        .where(f"user_id % {every} = 0")
        .select("user_id", "movie_id", "rating")
        .cache()
    )
    print(f"{backend}: {ratings.count():,} ratings", flush=True)
    for rank in ranks:
        started = time.perf_counter()
        ALS(
            rank=rank,
            regParam=0.1,
            maxIter=10,
            userCol="user_id",
            itemCol="movie_id",
            ratingCol="rating",
            seed=1,
            numUserBlocks=2,
            numItemBlocks=2,
        ).fit(ratings).itemFactors.count()
        print(f"{backend}: rank {rank}: {time.perf_counter() - started:.1f} s", flush=True)
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="data home of a finished build")
    parser.add_argument("--every", type=int, default=10, help="keep users with id %% every == 0")
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--backend", choices=list(BACKENDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        fits(args.backend, args.every, args.ranks)
        return
    print(f"load average: {os.getloadavg()}")
    env = {**os.environ, "MOVIELAKE_HOME": args.home}
    for backend in BACKENDS:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--home",
                args.home,
                "--every",
                str(args.every),
                "--ranks",
                *map(str, args.ranks),
                "--backend",
                backend,
            ],
            env=env,
            check=True,
        )


if __name__ == "__main__":
    main()
