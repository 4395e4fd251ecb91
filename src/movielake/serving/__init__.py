"""What users read without Spark: the built Delta tables through deltalake (`lake`), personal
recommendations for new ratings (`personal`) with reasons (`explain`), the app (`app`,
`advisor`) and the HTML report (`report`, `comparison`).

May import: `movielake.algorithms`, `movielake.data`, deltalake, pandas. Never pyspark
(tests/unit/test_layers.py checks it): the app and `movielake recommend` start no JVM.
"""
