"""Cost of top-K scoring per user (als._score_batches, the mapInPandas body of
als.top_k_unseen) at ml-20m and ml-latest catalogue sizes, rank 64, 144 seen movies per user,
without Spark: the CPU time per user times the users gives the recommendations step at full size.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/topk_cost.py
"""

import time

import numpy as np
import pandas as pd

from movielake.spark.als import _score_batches

rng = np.random.default_rng(0)
for n_items, rank in ((27_278, 64), (86_537, 64)):
    item_ids = np.sort(rng.choice(200_000, n_items, replace=False)).astype(np.int64)
    item_f = rng.normal(size=(n_items, rank))
    item_b = rng.normal(size=n_items)
    users = 2048
    frame = pd.DataFrame(
        {
            "id": np.arange(users),
            "features": list(rng.normal(size=(users, rank))),
            "bias": 0.0,
            "global_mean": 3.5,
            "seen": [rng.choice(item_ids, 144, replace=False) for _ in range(users)],
        }
    )
    t = time.perf_counter()
    cpu = time.process_time()
    out = pd.concat(list(_score_batches(iter([frame]), item_ids, item_f, item_b, 10, 1024)))
    w, c = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"{n_items} items, rank {rank}: {users} users in {w:.2f}s wall, {c:.2f}s CPU "
        f"-> {c / users * 1000:.2f} ms CPU per user; {len(out)} rows"
    )
