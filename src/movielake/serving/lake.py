"""Read the lakehouse's tables without Spark: straight from their Delta logs with the `deltalake`
package (delta-rs). No JVM and no metastore, so it starts in a moment and works while a dbt
build or `movielake serve` holds the metastore; a reader sees the last committed version.

This is also the one place that knows where dbt puts a model's table:
schema `<prefix>_<custom schema>` (dbt's default `generate_schema_name`), table = the model's
alias, files in `<warehouse>/<schema>.db/<table>` (Spark's managed-table layout). The custom
schema and alias come from dbt's manifest when there is one, else from the `+schema` configs of
dbt_project.yml that apply to the folder holding the model's file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import pandas as pd

from movielake.data.storage import Location
from movielake.errors import MovieLakeError

DEFAULT_PREFIX = "movielake"


class NotBuiltError(MovieLakeError):
    """A table the caller needs has not been built (yet) in this data home."""


def default_schema_prefix() -> str:
    """The prefix of every schema dbt writes: $MOVIELAKE_SCHEMA (as profiles/profiles.yml
    reads it), else `movielake`."""
    return os.environ.get("MOVIELAKE_SCHEMA") or DEFAULT_PREFIX


@dataclass(frozen=True)
class TableRef:
    model: str
    schema: str
    table: str
    path: Location

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class TableVersion:
    """A Delta table's current version and when it was committed."""

    version: int
    written_at: datetime


def schema_name(prefix: str, custom_schema: str | None) -> str:
    """dbt's default generate_schema_name: the target schema, suffixed with the custom one."""
    return f"{prefix}_{custom_schema.strip()}" if custom_schema else prefix


def _manifest_path() -> Path:
    """dbt's target folder ($DBT_TARGET_PATH, else target/ in the project)."""
    from movielake.data.paths import project_dir

    target = os.environ.get("DBT_TARGET_PATH")
    folder = Path(target) if target else project_dir() / "target"
    if not folder.is_absolute():
        folder = project_dir() / folder
    return folder / "manifest.json"


def _project_configs() -> dict[str, dict]:
    """model/seed name -> {"schema": custom schema or None, "alias": None} from dbt_project.yml:
    each `+schema` applies to the folders below it, the deepest one wins (dbt's cascade)."""
    import yaml

    from movielake.data.paths import project_dir

    root = project_dir()
    project = yaml.safe_load((root / "dbt_project.yml").read_text())
    name = project["name"]
    found: dict[str, dict] = {}
    for kind, paths_key, suffixes, default_paths in (
        ("models", "model-paths", (".sql", ".py"), ["models"]),
        ("seeds", "seed-paths", (".csv",), ["seeds"]),
    ):
        tree = (project.get(kind) or {}).get(name) or {}
        for base in project.get(paths_key, default_paths):
            for file in sorted((root / base).rglob("*")):
                if file.suffix not in suffixes:
                    continue
                schema, node = tree.get("+schema"), tree
                for folder in file.relative_to(root / base).parent.parts:
                    node = node.get(folder) if isinstance(node, dict) else None
                    if not isinstance(node, dict):
                        break
                    schema = node.get("+schema", schema)
                found.setdefault(
                    file.stem, {"schema": schema, "alias": None, "location_root": None}
                )
    return found


def _manifest_configs(path: Path) -> dict[str, dict]:
    """model/seed name -> custom schema, alias and location_root, as dbt resolved them."""
    manifest = json.loads(path.read_text())
    project = manifest.get("metadata", {}).get("project_name")
    found: dict[str, dict] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        if project and node.get("package_name") != project:
            continue
        config = node.get("config") or {}
        found[node["name"]] = {
            "schema": config.get("schema"),
            "alias": node.get("alias"),
            "location_root": config.get("location_root"),
        }
    return found


class Lake:
    """The tables of one schema prefix in one data home, read with deltalake into pandas."""

    def __init__(
        self, prefix: str | None = None, home: Path | None = None, manifest: Path | None = None
    ) -> None:
        from movielake.data.paths import data_home, warehouse_dir

        self.prefix = prefix or default_schema_prefix()
        self.home = Path(home) if home else data_home()
        self.warehouse = warehouse_dir(self.home)
        self._manifest = manifest

    @cached_property
    def _configs(self) -> dict[str, dict]:
        configs = _project_configs()
        manifest = self._manifest or _manifest_path()
        if manifest.is_file():
            try:
                configs.update(_manifest_configs(manifest))
            except (OSError, ValueError, KeyError):
                pass  # a half-written or foreign manifest: the project's own configs stand
        return configs

    def ref(self, model: str) -> TableRef:
        """Where `model`'s table is (whether or not it has been built)."""
        config = self._configs.get(model)
        if config is None:
            raise KeyError(f"{model}: no such model or seed in the dbt project")
        schema = schema_name(self.prefix, config["schema"])
        table = (config["alias"] or model).lower()
        root = config.get("location_root")
        path = Location(root) / table if root else self.warehouse / f"{schema.lower()}.db" / table
        return TableRef(model, schema, table, path)

    def name(self, model: str) -> str:
        return self.ref(model).name

    def exists(self, model: str) -> bool:
        return self.ref(model).path.is_delta_table()

    def _table(self, model: str):
        from deltalake import DeltaTable

        ref = self.ref(model)
        if not ref.path.is_delta_table():
            raise NotBuiltError(
                f"{ref.name} is not built (no Delta table at {ref.path}); build it with "
                f"`make run` (dbt build -s +{model}) with MOVIELAKE_HOME={self.home} and "
                f"MOVIELAKE_SCHEMA={self.prefix}"
            )
        return DeltaTable(str(ref.path), storage_options=ref.path.storage_options())

    def read(
        self,
        model: str,
        columns: list[str] | None = None,
        filters=None,
        order_by: list[str] | str | None = None,
    ) -> pd.DataFrame:
        """The table's rows (the latest committed version); `filters` as pyarrow's DNF list,
        e.g. [("side", "=", "item")]."""
        frame = self._table(model).to_pandas(columns=columns, filters=filters)
        if order_by:
            frame = frame.sort_values(order_by, kind="stable").reset_index(drop=True)
        return frame

    def table_path(self, layer: str, table: str) -> Location:
        """A table that is not a dbt model (e.g. the peers benchmark's) in <prefix>_<layer>."""
        return self.warehouse / f"{schema_name(self.prefix, layer).lower()}.db" / table.lower()

    def read_table(self, layer: str, table: str) -> pd.DataFrame | None:
        """Such a table's rows, or None when it has not been written."""
        from deltalake import DeltaTable

        path = self.table_path(layer, table)
        if not path.is_delta_table():
            return None
        return DeltaTable(str(path), storage_options=path.storage_options()).to_pandas()

    def version(self, model: str) -> TableVersion:
        table = self._table(model)
        last = table.history(1)[0]
        return TableVersion(
            table.version(), datetime.fromtimestamp(last["timestamp"] / 1000, tz=timezone.utc)
        )

    def served_model(self, job: str = "top_k", required: bool = False) -> str | None:
        """The model served_models names for `job`, or None (no row, or not built); required:
        NotBuiltError instead of None."""
        if not required and not self.exists("served_models"):
            return None
        served = self.read("served_models", filters=[("job", "=", job)])
        if served.empty and required:
            raise NotBuiltError(f"{self.name('served_models')} names no model for job {job!r}")
        return None if served.empty else str(served["model"].iloc[0])

    def new_movie_items(self) -> tuple[pd.DataFrame | None, int]:
        """(the hybrid's item rows as refit on train + validation, new_movie_slots of the
        top_k row of served_models): what gives a user their best new movies. (None, 0) when
        the build has neither (a lakehouse built before them)."""
        if not self.exists("served_models") or not self.exists("hybrid_factors"):
            return None, 0
        served = self.read("served_models", filters=[("job", "=", "top_k")])
        if served.empty or "new_movie_slots" not in served:
            return None, 0
        slots = int(served["new_movie_slots"].fillna(0).iloc[0])
        if slots <= 0:
            return None, 0
        items = self.read(
            "hybrid_factors",
            filters=[("scored_split", "=", "test"), ("side", "=", "item")],
            order_by="id",
        )
        return items, slots

    def served_source(self, job: str = "top_k") -> str:
        """The table holding the served model's rows for `job`: item_item_weights when the
        item-item model is served, else served_factors (also when nothing is built yet)."""
        return "item_item_weights" if self.served_model(job) == "item_item" else "served_factors"

    def served_item_factors(
        self, job: str = "top_k", rated: set[int] | None = None
    ) -> tuple[pd.DataFrame, dict]:
        """The item rows of the model served for `job` ("top_k" or "rating"), as refit on
        train + validation, and its settings (one row as a dict): an ALS variant's or the
        hybrid's item rows of served_factors, or item_item's rows of item_item_weights.

        rated: the movies of one user to fold in. item_item's rows of B are then read for
        those movies only (all movie ids still come back, their rows empty): one fold-in
        needs nothing else, and the whole of B is catalogue^2 numbers (4,749^2 on
        ml-latest-small, seconds to read)."""
        model = self.served_model(job, required=True)
        if model == "item_item":  # the item-item model stores rows of B, not factors
            test = [("scored_split", "=", "test")]
            if rated is None:
                weights = self.read("item_item_weights", filters=test, order_by="movie_id")
            else:
                catalogue = self.read(
                    "item_item_weights", filters=test, columns=["model", "weighting", "movie_id"]
                )
                rows = self.read(
                    "item_item_weights",
                    columns=["movie_id", "neighbour_ids", "weights"],
                    filters=test + [("movie_id", "in", sorted(rated))],
                )
                weights = (
                    catalogue.merge(rows, on="movie_id", how="left")
                    .sort_values("movie_id", kind="stable")
                    .reset_index(drop=True)
                )
            if weights.empty:
                raise NotBuiltError(
                    f"{self.name('item_item_weights')} has no rows of the served item_item model"
                )
            return self._with_new_user_rule(job, weights, weights.iloc[0].to_dict())
        items = self.read(
            "served_factors", filters=[("job", "=", job), ("side", "=", "item")], order_by="id"
        )
        if items.empty:
            raise NotBuiltError(
                f"{self.name('served_factors')} has no item factors of the served model {model}"
            )
        return self._with_new_user_rule(job, items, items.iloc[0].to_dict())

    def _with_new_user_rule(self, job: str, items: pd.DataFrame, settings: dict):
        """personal.with_new_user_rule from served_models' new_user_shrinkage of `job` and the
        movies' fit ratings (popularity_biases, scored_split test); as read when the build
        predates the rule (no such column)."""
        from movielake.serving.personal import with_new_user_rule

        served = self.read("served_models", filters=[("job", "=", job)])
        if served.empty or "new_user_shrinkage" not in served:
            return items, settings
        shrinkage = served["new_user_shrinkage"].iloc[0]
        if pd.isna(shrinkage):
            return items, settings
        popularity = self.read(
            "popularity_biases",
            columns=["entity_id", "n_ratings"],
            filters=[("scored_split", "=", "test"), ("entity", "=", "movie")],
        )
        return with_new_user_rule(items, settings, popularity, shrinkage)
