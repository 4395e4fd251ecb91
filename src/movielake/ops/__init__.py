"""Processes and housekeeping: the long-lived Spark server (`server`), a standalone cluster
(`cluster`), the Kafka broker (`kafka`), the storage servers (`objectstore`, `hdfs`,
`metastore`), the data-home lock (`home_lock`), pid files and stopping (`daemon`, `procs`),
the set-up check (`doctor`) and Delta vacuum (`vacuum`).

May import: `movielake.spark`, `movielake.data` and the standard library; never `serving` or
`streaming`.
"""
