"""The recommenders' mathematics, in numpy and scipy only: the popularity baseline's damped
biases, ALS fold-in of a new user, a new user's shrinkage towards popularity (`shrinkage`),
EASE's solve and scoring (`ease`), the hybrid's content map, scoring from factor arrays and the
ranking and rating metrics as MLlib defines them, on the driver (`ranking`), movie twins' exact
Jaccard and validation statistics, and the coordinate search ALS tuning uses (`search`).

May import: numpy, scipy, pandas, the standard library and `movielake.errors`. Never pyspark
(tests/unit/test_layers.py checks it), so that serving a recommendation needs no JVM.
"""
