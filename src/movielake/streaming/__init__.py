"""The streaming ingest: `movielake produce` writes ratings to Kafka or a landing folder
(`produce`), and `movielake stream` applies the staging rules to them with Spark Structured
Streaming into Delta, with incremental fold-in recommendations (`stream`).

May import: `movielake.spark`, `movielake.serving`, `movielake.algorithms`, `movielake.data`,
`movielake.ops` (the Kafka broker's address).
"""
