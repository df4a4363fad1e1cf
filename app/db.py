"""The one way paystream builds a SQLAlchemy engine (psycopg 3, explicit pool limits), and the
one declarative base, so Alembic sees one metadata."""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, cast

import msgspec
import psycopg
import sqlalchemy
from sqlalchemy.orm import DeclarativeBase, mapped_column

#: SQLAlchemy's own name for the psycopg 3 driver; plain ``postgresql://`` would pick psycopg2.
PSYCOPG_SCHEME = "postgresql+psycopg"
#: Schemes we accept from the environment (Heroku still hands out ``postgres://``).
PLAIN_SCHEMES = frozenset({"postgres", "postgresql", PSYCOPG_SCHEME})

#: Constraint names are fixed by convention so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: Connections each process keeps open; a worker appends in batches, so a few suffice.
POOL_SIZE = 5
#: Extra connections allowed under a burst, closed again when returned.
POOL_OVERFLOW_MAX = 5
#: How long a caller waits for a free connection before failing instead of queueing forever.
POOL_TIMEOUT_S = 30.0
#: Connections are replaced after this age so server-side idle limits never surprise us.
POOL_RECYCLE_S = 1800
#: A dead server must fail fast: the worker retries later, the stream keeps the payment.
CONNECT_TIMEOUT_S = 10


def length_limits(**limits: int) -> list[sqlalchemy.CheckConstraint]:
    """A CHECK per text column bounding its length, named ``<column>_length``: the database
    refuses what the application would never write, whoever writes it."""
    return [
        sqlalchemy.CheckConstraint(f"char_length({column}) <= {limit}", name=f"{column}_length")
        for column, limit in limits.items()
    ]


def insert_rows(
    model: type["Base"], row_type: type[Any], on_conflict: str
) -> sqlalchemy.TextClause:
    """An INSERT of a batch of ``row_type`` dataclasses in one statement, into the columns named
    as its fields: the batch goes as one JSON array (``rows_parameter``), which the server
    reads into rows of the table's own type. executemany would have SQLAlchemy and psycopg bind
    and send each row in Python (100-230 µs of CPU a row), and array parameters would have
    psycopg escape each text element with a regular expression (over 100 µs a row)."""
    columns = ", ".join(field.name for field in dataclasses.fields(row_type))
    return sqlalchemy.text(
        f"INSERT INTO {model.__tablename__} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{model.__tablename__}, CAST(:rows AS json)) "
        + on_conflict
    )


def rows_parameter(rows: Sequence[Any]) -> dict[str, str]:
    """The parameter of an ``insert_rows`` statement: ``rows`` (dataclasses) as a JSON array."""
    return {"rows": msgspec.json.encode(rows).decode()}


#: When a row was written, by the database's clock.
WrittenAt = Annotated[datetime, mapped_column(server_default=sqlalchemy.func.now())]


class Base(DeclarativeBase):
    metadata = sqlalchemy.MetaData(naming_convention=NAMING_CONVENTION)
    # A column is NOT NULL unless typed Optional, and these are the types paystream stores:
    # text without an arbitrary length cap (CHECKs bound lengths), 64-bit integers (money in
    # minor units, milliseconds), times with their zone.
    type_annotation_map = {
        str: sqlalchemy.Text(),
        int: sqlalchemy.BigInteger(),
        bool: sqlalchemy.Boolean(),
        bytes: sqlalchemy.LargeBinary(),
        datetime: sqlalchemy.DateTime(timezone=True),
    }


class DatabaseUrlError(ValueError):
    """The database URL is not a PostgreSQL URL."""


def psycopg_url(url: str) -> str:
    """``url`` with its scheme pinned to the psycopg 3 driver."""
    scheme, separator, rest = url.partition("://")
    if separator == "" or scheme not in PLAIN_SCHEMES:
        raise DatabaseUrlError("DATABASE_URL must start with postgresql:// or postgres://")
    return f"{PSYCOPG_SCHEME}://{rest}"


def create_engine_for(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(
        psycopg_url(url),
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW_MAX,
        pool_timeout=POOL_TIMEOUT_S,
        pool_recycle=POOL_RECYCLE_S,
        pool_pre_ping=True,
        connect_args={"connect_timeout": connect_timeout_s},
    )


def psycopg_connection(connection: sqlalchemy.Connection) -> psycopg.Connection[Any]:
    """The driver connection under ``connection``, for COPY and server-side cursors.

    It shares ``connection``'s transaction: what runs on it commits or rolls back with it.
    """
    return cast(psycopg.Connection[Any], connection.connection.driver_connection)
