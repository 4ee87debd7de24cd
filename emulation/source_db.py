"""The source database (RDS MySQL in AWS; a SQLite file or MariaDB locally), through SQLAlchemy.

Writes the generator's three tables with the column types of docs/data-contracts.md 3.1 (replacing existing
tables, bulk inserts in chunks) and reads them back with bound parameters over one engine: sequential keyset pages
in index order (the default), or the course's random rows (`... LIMIT :offset, 1` with a random offset). A stored
datetime that is no valid date is read as its text (`SourceDateTime`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator, TypeEngine

from emulation.config import DEFAULT_DB_URL
from emulation.generator import iter_chunks


class _LaxSQLiteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME, except that a stored value it cannot parse comes back as stored instead of failing."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        parse = super().result_processor(dialect, coltype)
        if parse is None:
            return None

        def process(value: Any) -> Any:
            try:
                return parse(value)
            except (ValueError, TypeError):
                return value

        return process


class SourceDateTime(TypeDecorator[Any]):
    """A source DATETIME column. A value that is no valid datetime (`2020-13-45`, `0000-00-00 00:00:00`: a lax
    source can hold one) is read as the text stored, so the emulator sends what the source holds and the cleaning
    decides (one bad row must not stop a run with a traceback). MySQL drivers already return such values as text.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_LaxSQLiteDateTime())
        return dialect.type_descriptor(DateTime())


METADATA = MetaData()
TABLES: dict[str, Table] = {
    "pinterest_data": Table(
        "pinterest_data",
        METADATA,
        Column("index", Integer, nullable=False),
        Column("unique_id", String(36)),
        Column("title", Text),
        Column("description", Text),
        Column("poster_name", String(255)),
        Column("follower_count", String(32)),
        Column("tag_list", Text),
        Column("is_image_or_video", String(64)),
        Column("image_src", Text),
        Column("downloaded", Integer),
        Column("save_location", String(255)),
        Column("category", String(64)),
    ),
    "geolocation_data": Table(
        "geolocation_data",
        METADATA,
        Column("ind", Integer, nullable=False),
        Column("timestamp", SourceDateTime),
        Column("latitude", Double),
        Column("longitude", Double),
        Column("country", String(255)),
    ),
    "user_data": Table(
        "user_data",
        METADATA,
        Column("ind", Integer, nullable=False),
        Column("first_name", String(255)),
        Column("last_name", String(255)),
        Column("age", Integer),
        Column("date_joined", SourceDateTime),
    ),
}
#: The column that joins the tables (`index` in pinterest_data, `ind` elsewhere).
KEY: dict[str, str] = {"pinterest_data": "index", "geolocation_data": "ind", "user_data": "ind"}
# Not unique: duplicate events repeat an index. Created after the bulk load.
_INDEXES = [Index(f"ix_{name}_{KEY[name]}", table.c[KEY[name]]) for name, table in TABLES.items()]


class SourceDBError(Exception):
    """The source database is missing, unreachable or not seeded (message says what to do)."""


def make_engine(db_url: str, *, must_exist: bool = True) -> Engine:
    """One engine for `db_url`. A missing SQLite file is an error unless `must_exist` is false."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise SourceDBError(f"not a database URL: {db_url!r} ({exc})") from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if must_exist and not path.exists():
            raise SourceDBError(f"source database {path} does not exist: run `make seed` first")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise SourceDBError(f"no driver for {url.drivername!r}: {exc}") from None


def write_tables(engine: Engine, chunks: Iterator[dict[str, list[dict]]]) -> dict[str, int]:
    """Replace the three tables with the rows of `chunks` (bulk executemany per chunk). Returns row counts."""
    counts = dict.fromkeys(TABLES, 0)
    with engine.begin() as conn:
        METADATA.drop_all(conn)
        METADATA.create_all(conn, tables=list(TABLES.values()))
    for index in _INDEXES:  # create_all made them; drop to load fast, recreate after
        with engine.begin() as conn:
            index.drop(conn)
    for chunk in chunks:
        with engine.begin() as conn:
            for name, rows in chunk.items():
                if rows:
                    conn.execute(TABLES[name].insert(), rows)
                    counts[name] += len(rows)
    with engine.begin() as conn:
        for index in _INDEXES:
            index.create(conn)
    return counts


def seed_database(db_url: str = DEFAULT_DB_URL, rows: int = 11_000, seed: int = 42) -> dict[str, int]:
    """Generate `rows` rows per table (duplicates included) and write them to `db_url`. Returns row counts."""
    engine = make_engine(db_url, must_exist=False)
    try:
        return write_tables(engine, iter_chunks(rows, seed))
    except SQLAlchemyError as exc:
        raise SourceDBError(f"cannot write the source tables to {safe_url(db_url)}: {_reason(exc)}") from None
    finally:
        engine.dispose()


class SourceReader:
    """Reads the source tables over one engine, always with bound parameters."""

    def __init__(self, db_url: str = DEFAULT_DB_URL) -> None:
        self.db_url = db_url
        self.engine = make_engine(db_url)
        try:
            present = set(inspect(self.engine).get_table_names())
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise SourceDBError(
                f"cannot reach the source database {safe_url(db_url)}: {_reason(exc)}"
            ) from None
        missing = [t for t in TABLES if t not in present]
        if missing:
            self.engine.dispose()
            raise SourceDBError(
                f"source database {safe_url(db_url)} has no table {', '.join(missing)}: run `make seed` first"
            )

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, table: str, after: int | None = None) -> int:
        """Rows of `table` (with index greater than `after`, if given)."""
        t = TABLES[table]
        query = select(func.count()).select_from(t)
        if after is not None:
            query = query.where(t.c[KEY[table]] > after)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def pages(
        self, table: str, *, after: int | None = None, page_size: int = 5000, limit: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of `table` in index order, `page_size` at a time, from the first index greater than `after`.

        Keyset paging: `WHERE key > :after ORDER BY key LIMIT :n`. A page never splits the rows of one index (a
        duplicate event comes with its original), so a page may hold a row or two more than asked, and
        `limit` (rows) may be exceeded by the duplicates of the last row.
        """
        t = TABLES[table]
        key = t.c[KEY[table]]
        sent = 0
        with self.engine.connect() as conn:
            while limit is None or sent < limit:
                n = page_size if limit is None else min(page_size, limit - sent)
                query = select(t).order_by(key).limit(n)
                if after is not None:
                    query = query.where(key > after)
                rows = _dicts(conn.execute(query))
                if not rows:
                    return
                last = rows[-1][KEY[table]]
                if len(rows) == n:  # complete the last index's group
                    group = _dicts(conn.execute(select(t).where(key == last)))
                    rows = [r for r in rows if r[KEY[table]] != last] + group
                sent += len(rows)
                after = last
                yield rows
                if len(rows) < n:
                    return

    def random_events(self, n: int, seed: int | None = None) -> Iterator[dict[str, dict[str, Any]]]:
        """The course's reads: `n` random events, each `SELECT * FROM t ORDER BY key LIMIT :offset, 1` in every table
        with the same random offset (ordered by the join key so the offset names the same event everywhere).
        """
        rng = random.Random(seed)
        total = self.count("pinterest_data")
        if total == 0:
            return
        with self.engine.connect() as conn:
            for _ in range(n):
                offset = rng.randrange(total)
                event = {}
                for name, t in TABLES.items():
                    query = select(t).order_by(t.c[KEY[name]]).limit(1).offset(offset)
                    rows = _dicts(conn.execute(query))
                    if rows:
                        event[name] = rows[0]
                yield event


def _dicts(result: CursorResult[Any]) -> list[dict[str, Any]]:
    """Result rows as plain dicts with plain `str` keys (what JSON encoders expect)."""
    columns = [str(c) for c in result.keys()]  # noqa: SIM118 (a result, not a dict)
    return [dict(zip(columns, row, strict=True)) for row in result]


def safe_url(db_url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]
