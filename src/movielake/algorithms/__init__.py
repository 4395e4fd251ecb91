"""The recommenders' mathematics, in numpy and scipy only: the popularity baseline's damped
biases, ALS fold-in of a new user, EASE's solve and scoring (`ease`), the hybrid's content map,
scoring from factor arrays and the validation metrics as MLlib defines them (`ranking`), movie
twins' exact Jaccard and validation statistics.

May import: numpy, scipy, pandas, the standard library and `movielake.errors`. Never pyspark
(tests/unit/test_layers.py checks it), so that serving a recommendation needs no JVM.
"""
