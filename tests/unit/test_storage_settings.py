"""Where the lakehouse is kept, as settings (no server, no JVM): MOVIELAKE_WAREHOUSE's URIs,
the Spark settings a store needs (with no key among them), releases named by a store URI, and
the cluster's memory defaults. tests/system/test_shared_store.py runs the real thing."""

from __future__ import annotations

import pytest

from movielake.data.paths import release_dir, release_files, warehouse_dir
from movielake.data.storage import Location, StorageError, configured_warehouse

KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "very-secret-value"}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in (
        "MOVIELAKE_WAREHOUSE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "MOVIELAKE_WORKER_MEMORY",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path))
    return monkeypatch


def test_a_location_joins_like_a_path_for_folders_and_uris(tmp_path):
    assert str(Location(tmp_path) / "a.db" / "t") == str(tmp_path / "a.db" / "t")
    uri = Location("s3a://bucket/warehouse/") / "a.db" / "t"
    assert str(uri) == "s3a://bucket/warehouse/a.db/t" and uri.remote and uri.scheme == "s3a"
    assert not Location(f"file:{tmp_path}").remote
    assert Location("hdfs://127.0.0.1:8020/w").scheme == "hdfs"


def test_the_warehouse_is_local_unless_movielake_warehouse_names_a_store(clean_env, tmp_path):
    assert str(warehouse_dir()) == str(tmp_path / "spark-warehouse")
    clean_env.setenv("MOVIELAKE_WAREHOUSE", "hdfs://127.0.0.1:8020/movielake/warehouse")
    assert str(warehouse_dir()) == "hdfs://127.0.0.1:8020/movielake/warehouse"
    for bad, says in (("ftp://host/w", "unsupported scheme"), ("s3a:///w", "no bucket")):
        clean_env.setenv("MOVIELAKE_WAREHOUSE", bad)
        with pytest.raises(StorageError, match=says):
            configured_warehouse()


def test_s3_settings_name_the_endpoint_and_never_a_key(clean_env):
    from movielake.spark.session import session_conf

    local = session_conf()
    assert "spark.hadoop.fs.s3a.endpoint" not in local
    assert local["spark.jars.packages"].count(",") == 0  # make run: Delta's jar only
    clean_env.setenv("MOVIELAKE_WAREHOUSE", "s3a://movielake/warehouse")
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    for key, value in KEYS.items():
        clean_env.setenv(key, value)
    conf = session_conf()
    assert conf["spark.sql.warehouse.dir"] == "s3a://movielake/warehouse"
    assert conf["spark.checkpoint.dir"] == "s3a://movielake/warehouse/_checkpoints"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert "org.apache.hadoop:hadoop-aws:" in conf["spark.jars.packages"]
    assert "software.amazon.awssdk:bundle" in conf["spark.jars.excludes"]
    assert (
        "EnvironmentVariableCredentialsProvider"
        in conf["spark.hadoop.fs.s3a.aws.credentials.provider"]
    )
    text = repr(conf)
    assert all(value not in text for value in KEYS.values())


def test_hdfs_needs_no_extra_jar(clean_env):
    from movielake.spark.session import session_conf

    clean_env.setenv("MOVIELAKE_WAREHOUSE", "hdfs://127.0.0.1:8020/w")
    conf = session_conf()
    assert conf["spark.sql.warehouse.dir"] == "hdfs://127.0.0.1:8020/w"
    assert "hadoop-aws" not in conf["spark.jars.packages"]


def test_a_release_on_a_store_is_checked_by_the_caller_that_can_read_it(clean_env):
    uri = "s3a://bucket/raw/ml-1m"
    assert str(release_dir("ml-1m", uri)) == uri
    seen = []
    files = release_files("ml-1m", uri, is_file=lambda p: seen.append(p) or True)
    assert files["ratings"] == f"{uri}/ratings.dat" and f"{uri}/ratings.dat" in seen
    with pytest.raises(Exception, match="required file s3a://bucket/raw/ml-1m/ratings.dat"):
        release_files("ml-1m", uri, is_file=lambda p: False)
    with pytest.raises(Exception, match="only a build"):
        release_files("ml-1m", uri)


def test_cluster_executors_take_their_workers_memory(clean_env):
    from movielake.ops.cluster import worker_memory
    from movielake.spark.item_item import _gib

    assert 2 <= _gib(worker_memory(2)) <= 8
    clean_env.setenv("MOVIELAKE_WORKER_MEMORY", "5g")
    assert worker_memory(2) == "5g"
    assert _gib("1536m") == 1.5 and _gib("2g") == 2 and _gib(str(2**30)) == 1
