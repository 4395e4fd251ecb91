"""Do movie twins also rate alike? One row per pair group ('twins', 'random'): how many pairs,
how many have a defined correlation (and why the others do not), the distribution of the
Pearson correlations, and a one-sided permutation test of mean(twins) > mean(random) over the
defined correlations (the same test result on both rows).
"""

import numpy as np
from pyspark.sql import types as T

from movielake.algorithms.twins import permutation_test, summarise
from movielake.data.settings import setting

TEST_NAME = "permutation test, one-sided: mean pearson of twins > random"
SCHEMA = T.StructType(
    [
        T.StructField("pair_group", T.StringType()),
        T.StructField("pairs", T.IntegerType()),
        T.StructField("pairs_with_correlation", T.IntegerType()),
        T.StructField("pairs_undefined", T.IntegerType()),
        T.StructField("pairs_fewer_than_2_co_rated", T.IntegerType()),
        T.StructField("pairs_zero_variance", T.IntegerType()),
        T.StructField("mean_pearson", T.DoubleType()),
        T.StructField("median_pearson", T.DoubleType()),
        T.StructField("std_pearson", T.DoubleType()),
        T.StructField("test_name", T.StringType()),
        T.StructField("statistic", T.DoubleType()),
        T.StructField("p_value", T.DoubleType()),
        T.StructField("permutations", T.IntegerType()),
    ]
)


def model(dbt, spark):
    permutations = setting("permutations", dbt.config.meta_get("permutations"), int)
    seed = setting("random_seed", dbt.config.meta_get("random_seed"), int)
    pairs = (
        dbt.ref("twin_pair_correlations")
        .select("pair_group", "pearson", "undefined_reason")
        .collect()
    )
    members, defined = {}, {}
    for group in ("twins", "random"):
        members[group] = [p for p in pairs if p.pair_group == group]
        defined[group] = np.array([p.pearson for p in members[group] if p.pearson is not None])
    statistic, p_value = permutation_test(defined["twins"], defined["random"], permutations, seed)
    rows = []
    for group, mine in members.items():
        values = defined[group]
        reasons = [p.undefined_reason for p in mine]
        rows.append(
            {
                "pair_group": group,
                "pairs": len(mine),
                "pairs_with_correlation": len(values),
                "pairs_undefined": len(mine) - len(values),
                "pairs_fewer_than_2_co_rated": reasons.count("fewer_than_2_co_rated"),
                "pairs_zero_variance": reasons.count("zero_variance"),
                **summarise(values),
                "test_name": TEST_NAME,
                "statistic": None if np.isnan(statistic) else statistic,
                "p_value": None if np.isnan(p_value) else p_value,
                "permutations": permutations,
            }
        )
    return spark.createDataFrame(rows, SCHEMA)
