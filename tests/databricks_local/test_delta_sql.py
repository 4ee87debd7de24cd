"""`databricks_local/delta_sql.py`'s statement patterns: what each one reads out of a statement (no Spark)."""

from __future__ import annotations

from databricks_local import delta_sql


def test_statement_patterns_read_target_and_parts() -> None:
    drop = delta_sql.DROP.match("drop table if exists db.t ;")
    assert drop is not None and (drop["exists"] is not None, drop["target"]) == (True, "db.t")
    create = delta_sql.CREATE.match("CREATE OR REPLACE TABLE t USING DELTA AS SELECT 1 AS id;")
    assert create is not None
    assert (create["target"], create["using"], create["query"]) == ("t", "DELTA", "SELECT 1 AS id")
    insert = delta_sql.INSERT.match("INSERT OVERWRITE TABLE delta.`/tmp/x` VALUES (1)\n")
    assert insert is not None and (insert["how"], insert["target"], insert["query"]) == (
        "OVERWRITE",
        "delta.`/tmp/x`",
        "VALUES (1)",
    )
    update = delta_sql.UPDATE.match("UPDATE t SET a = 1, b = 2 WHERE id > 3")
    assert update is not None and (update["set"], update["where"]) == ("a = 1, b = 2", "id > 3")
    delete = delta_sql.DELETE.match("  DELETE FROM `db`.`t`;  ")
    assert delete is not None and (delete["target"], delete["where"]) == ("`db`.`t`", None)
    describe = delta_sql.DESCRIBE.match("describe history t limit 2")
    assert describe is not None and (describe["what"], describe["limit"]) == ("history", "2")
    merge = delta_sql.MERGE.match(
        "MERGE INTO t AS a USING (SELECT 1 AS id) s ON a.id = s.id WHEN MATCHED THEN DELETE;"
    )
    assert merge is not None
    assert (merge["talias"], merge["source"], merge["salias"], merge["rest"]) == (
        "a",
        "(SELECT 1 AS id)",
        "s",
        "a.id = s.id WHEN MATCHED THEN DELETE",
    )


def test_statement_patterns_take_only_whole_statements() -> None:
    assert delta_sql.DROP.match("DROP TABLE t; SELECT 1") is None
    assert delta_sql.INSERT.match("INSERT INTO t") is None
    assert delta_sql.CREATE.match("SELECT * FROM t") is None


def test_splits_only_outside_quotes_and_parentheses() -> None:
    assert delta_sql._split_commas("a = 1, b = f(x, y), c = 'p,q',") == [
        "a = 1",
        " b = f(x, y)",
        " c = 'p,q'",
        "",
    ]
    rest = "t.id = s.id WHEN MATCHED AND s.note = 'when' THEN DELETE whenever WHEN NOT MATCHED THEN INSERT *"
    assert delta_sql._top_level_split(rest, "WHEN") == [
        "t.id = s.id",
        "WHEN MATCHED AND s.note = 'when' THEN DELETE whenever",
        "WHEN NOT MATCHED THEN INSERT *",
    ]
