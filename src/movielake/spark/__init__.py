"""Everything that runs on Spark: the session and its settings (`session`), ALS fits and top-K
scoring on the executors (`als`), EASE's Gram matrix and stored rows (`item_item`), the
hybrid's and the twins' Spark jobs, the evaluators (`metrics`) and the dbt Python models'
shared inputs (`recommenders`).

May import: pyspark, `movielake.algorithms`, `movielake.data`. Never `serving`, `streaming`,
`ops` or the CLI.
"""
