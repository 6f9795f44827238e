"""The SQLite (or PostgreSQL) store, through sqlmodel.

Tables mirror the data model so that `kb list` / `kb search` can query them; each source and
law row also keeps its validated document (JSON text) so that reading a law back goes
through the same validator as a law file. ORM rows never leave this module: callers get
`schema.Source` / `schema.Law` objects.

The published laws are synced from the packaged TOML whenever their digest changes (one
transaction); users' laws (`kb add`, `kb fit --save`) live beside them and can never replace
a published id.
"""

import gc
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from sqlalchemy import Index, event, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

from . import catalog as catalog_mod
from .errors import BadFile, KbError
from .listing import STORE_VERSION, database_url  # noqa: F401 (database_url is part of this module's API)
from .query import search_text
from .schema import SCHEMA_VERSION, Law, LawSummary, Source, load_document

BUSY_TIMEOUT_MS = 10_000  # how long a SQLite writer waits for another one (KB_BUSY_TIMEOUT overrides)
BUSY_RETRIES = 2  # then the whole transaction is tried again, this many times, before giving up
CACHE_KB = 65_536  # SQLite page cache per connection, at most
ORDER_INDEX = "ix_kb_law_order"
CHUNK = 2_000  # laws per bulk INSERT: bounds memory for a file of 1e5 laws


class Meta(SQLModel, table=True):
    __tablename__ = "kb_meta"
    key: str = Field(primary_key=True)
    value: str


class SourceRow(SQLModel, table=True):
    __tablename__ = "kb_source"
    bibkey: str = Field(primary_key=True)
    short: str
    title: str
    authors: str
    year: int = Field(index=True)
    arxiv: str = ""
    origin: str = Field(index=True)
    verified: bool = True
    document: str  # the validated law-file document, JSON


class LawRow(SQLModel, table=True):
    __tablename__ = "kb_law"
    # catalog order (`kb list`): read in index order, not sorted (a store of 1e5 laws)
    __table_args__ = (Index(ORDER_INDEX, "source", "position"),)
    id: str = Field(primary_key=True)
    source: str = Field(foreign_key="kb_source.bibkey", index=True)
    position: int  # order within its file
    name: str
    title: str
    kind: str = Field(index=True)
    symbol: str
    quantity: str
    unit: str
    formula: str
    latex: str
    location: str
    verified: bool
    tags: str  # space-separated, for LIKE queries
    origin: str = Field(index=True)
    search_text: str  # lower-cased text that `kb search` matches


class VariableRow(SQLModel, table=True):
    __tablename__ = "kb_variable"
    id: Optional[int] = Field(default=None, primary_key=True)
    law: str = Field(foreign_key="kb_law.id", index=True)
    position: int
    symbol: str
    meaning: str
    unit: str
    fitted_lo: Optional[float] = None
    fitted_hi: Optional[float] = None


class ConstantRow(SQLModel, table=True):
    __tablename__ = "kb_constant"
    id: Optional[int] = Field(default=None, primary_key=True)
    law: str = Field(foreign_key="kb_law.id", index=True)
    position: int
    symbol: str
    value: Optional[str] = None  # as printed; NULL when missing
    uncertainty: str = ""
    unit: str = ""
    location: str
    verified: bool = True


class ConditionRow(SQLModel, table=True):
    __tablename__ = "kb_condition"
    id: Optional[int] = Field(default=None, primary_key=True)
    law: str = Field(foreign_key="kb_law.id", index=True)
    position: int
    key: str
    value: str


class CheckRow(SQLModel, table=True):
    __tablename__ = "kb_check"
    id: Optional[int] = Field(default=None, primary_key=True)
    law: str = Field(foreign_key="kb_law.id", index=True)
    position: int
    label: str
    location: str
    expr: str
    expect: str


class RelationRow(SQLModel, table=True):
    __tablename__ = "kb_relation"
    id: Optional[int] = Field(default=None, primary_key=True)
    owner: str = Field(foreign_key="kb_source.bibkey", index=True)
    subject: str
    kind: str
    target: str
    note: str = ""


class Store:
    def __init__(self, url: "str | None" = None):
        self.url = database_url(url)
        try:
            self.engine = create_engine(self.url)
        except Exception as exc:  # sqlalchemy's ArgumentError / missing driver
            raise KbError(f"cannot use database URL '{_redact(self.url)}': {exc}") from None
        self._writing = False
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # A write transaction takes the write lock when it starts (BEGIN IMMEDIATE): two `kb
            # add` or two first syncs then queue on busy_timeout instead of failing to upgrade a
            # read lock. Reads begin deferred, so in WAL mode no writer ever blocks them.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if self._writing else "BEGIN"))
        with self._errors("open"):
            with self._init_lock():
                if not _has_tables(self.engine):
                    with self._write():
                        SQLModel.metadata.create_all(self.engine)
                self._migrate()
                self.sync()

    @property
    def where(self) -> str:
        """The store as a user recognises it: the SQLite file, or the redacted URL."""
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            return self.engine.url.database.removeprefix("file:").split("?")[0]
        return _redact(self.url)

    @contextmanager
    def _write(self):
        """Transactions begun inside are write transactions (BEGIN IMMEDIATE on SQLite)."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    @contextmanager
    def _errors(self, doing: str):
        """The one place database failures become a one-line KbError naming the store and what
        to do. The transaction that failed has been rolled back, so the store is as it was."""
        try:
            yield
        except KbError:
            raise
        except IntegrityError:
            raise  # add_document turns a lost race for a new source into "already in the store"
        except (DBAPIError, OSError) as exc:
            raise _explain(exc, self.where, doing) from None
        except SQLAlchemyError as exc:  # not a driver error: a bad URL's argument, a missing driver
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise KbError(f"cannot {doing} the store at '{self.where}': {type(exc).__name__}: {first}") from None

    @contextmanager
    def _init_lock(self):
        """On PostgreSQL, processes opening a new shared database create its tables one at a
        time (a session-level advisory lock), or they collide on the catalog's unique keys."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(72022026)"))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(72022026)"))
                conn.commit()

    # -- schema versioning ------------------------------------------------------------------

    def _migrate(self):
        with Session(self.engine) as session:
            row = session.get(Meta, "store_version")
        if row is None:
            with self._write(), Session(self.engine) as session, session.begin():
                if session.get(Meta, "store_version") is None:  # another process may have won
                    session.add(Meta(key="store_version", value=str(STORE_VERSION)))
        elif int(row.value) > STORE_VERSION:
            raise KbError(f"the store at '{_redact(self.url)}' was written by a newer scaling-kb "
                          f"(store version {row.value}); upgrade kb")
        # versions < STORE_VERSION would be migrated here, one step at a time
        self._add_order_index()

    def _add_order_index(self):
        """A store made before the catalog-order index gets it (the same store version: the
        index changes no table, only the speed of `kb list`). A read-only store stays as it is."""
        from sqlalchemy import inspect

        if any(ix["name"] == ORDER_INDEX for ix in inspect(self.engine).get_indexes(LawRow.__tablename__)):
            return
        try:
            with self._write(), self.engine.begin() as conn:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {ORDER_INDEX} ON kb_law (source, position)"))
        except DBAPIError:
            pass  # read-only or busy: only slower

    # -- published laws ---------------------------------------------------------------------

    def sync(self, force: bool = False) -> bool:
        """Reload the published laws when the packaged files changed. Returns True if it did."""
        digest = catalog_mod.digest()
        with Session(self.engine) as session:
            row = session.get(Meta, "published_digest")
            if row is not None and row.value == digest and not force:
                return False
        published = catalog_mod.published()
        with self._write(), Session(self.engine) as session, session.begin():
            if self.engine.dialect.name == "postgresql":  # one syncing writer at a time
                session.exec(text("LOCK TABLE kb_meta IN EXCLUSIVE MODE"))
            row = session.get(Meta, "published_digest")
            if row is not None and row.value == digest and not force:
                return False
            for bibkey in [s.bibkey for s in session.exec(select(SourceRow).where(SourceRow.origin == "published"))]:
                _delete_source(session, bibkey)
            session.flush()
            for source in published.sources.values():
                _insert(session, source, published.laws_of(source.bibkey), _source_document(source))
            if row is None:
                session.add(Meta(key="published_digest", value=digest))
            else:
                row.value = digest
                session.add(row)
        return True

    # -- user laws --------------------------------------------------------------------------

    def add_file(self, path: Path, replace: bool = False) -> "tuple[Source, list[Law]]":
        with _bulk():
            data = catalog_mod.schema_document(path)
            source, laws = load_document(data, Path(path).name, origin="user")
            return self.add_document(data, str(path), source, laws, replace=replace)

    def add_document(self, data: dict, where: str, source=None, laws=None, replace: bool = False):
        if source is None:
            source, laws = load_document(data, where, origin="user")
        published = catalog_mod.published()
        if source.bibkey in published.sources:
            raise KbError(f"'{source.bibkey}' is a published source; a user law cannot replace it (choose another bibkey)")
        if not laws:
            raise BadFile(f"{where}: defines no [[law]]")
        document = _to_json(data)
        already = KbError(f"'{source.bibkey}' is already in the store; remove it first or use --replace")

        def write():
            with self._write(), Session(self.engine) as session, session.begin():
                existing = session.get(SourceRow, source.bibkey)
                if existing is not None:
                    if not replace:
                        raise already
                    _delete_source(session, source.bibkey)
                _insert(session, source, laws, document)

        try:
            self._retry(write, "add to")
        except IntegrityError:  # PostgreSQL: a concurrent `kb add` of the same source committed first
            raise already from None
        return source, laws

    def save_law(self, data: dict, where: str, replace: bool = False) -> "tuple[Source, list[Law]]":
        """Add the laws of a one-source document (a fit) to that user source, creating it if
        new: several fits of one lab live side by side (mylab2026.fit1, mylab2026.fit2). A law
        of the same id is replaced only with `replace`."""
        source, laws = load_document(data, where, origin="user")
        if source.bibkey in catalog_mod.published().sources:
            raise KbError(f"'{source.bibkey}' is a published source; a user law cannot join it (choose another bibkey)")

        def write():
            with self._write(), Session(self.engine) as session, session.begin():
                document, new_source, new_laws = data, source, laws
                existing = session.get(SourceRow, source.bibkey)
                if existing is not None:
                    stored = json.loads(existing.document)
                    names = {law.name for law in laws}
                    clash = [t.get("name") for t in stored.get("law", []) if t.get("name") in names]
                    if clash and not replace:
                        raise KbError(f"'{source.bibkey}.{clash[0]}' is already in the store; use --replace to overwrite it")
                    document = {**stored, "law": [t for t in stored.get("law", []) if t.get("name") not in names]
                                + list(data.get("law", []))}
                    new_source, new_laws = load_document(document, where, origin="user")
                    _delete_source(session, source.bibkey)
                _insert(session, new_source, new_laws, _to_json(document))
                return new_source, new_laws

        return self._retry(write, "add to")

    def remove_law(self, ident: str) -> "list[str]":
        """Remove a user law (bibkey.name) or a whole user source (bibkey); published laws are
        never removable. Returns the ids removed."""
        bibkey, _, name = ident.partition(".")
        published = catalog_mod.published()
        if published.has(ident) or bibkey in published.sources:
            raise KbError(f"'{ident}' is a published law; published laws cannot be removed")

        def write():
            with self._write(), Session(self.engine) as session, session.begin():
                row = session.get(SourceRow, bibkey)
                if row is None or row.origin != "user":
                    from .errors import UnknownId

                    known = [law.id for law in self.user_catalog().laws.values()]
                    known += list(session.exec(select(SourceRow.bibkey).where(SourceRow.origin == "user")))
                    raise UnknownId("user law or source", ident, known)
                stored = json.loads(row.document)
                tables = stored.get("law", [])
                if name and name not in {t.get("name") for t in tables}:
                    from .errors import UnknownId

                    raise UnknownId("user law", ident, [f"{bibkey}.{t.get('name')}" for t in tables])
                keep = [t for t in tables if name and t.get("name") != name]
                removed = [f"{bibkey}.{t.get('name')}" for t in tables if t not in keep]
                _delete_source(session, bibkey)
                if keep:
                    document = {**stored, "law": keep}
                    source, laws = load_document(document, f"store:{bibkey}", origin="user")
                    _insert(session, source, laws, _to_json(document))
                return removed

        return self._retry(write, "remove from")

    def _retry(self, transaction, doing: str):
        """Run a write transaction; when it waited past the busy timeout, run it again a few
        times, then give up with one line (sqlite's 'database is locked' is not for users)."""
        for attempt in range(BUSY_RETRIES + 1):
            try:
                with self._errors(doing):
                    return transaction()
            except KbError as exc:
                if not getattr(exc, "busy", False) or attempt == BUSY_RETRIES:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def remove(self, bibkey: str) -> None:
        def write():
            with self._write(), Session(self.engine) as session, session.begin():
                row = session.get(SourceRow, bibkey)
                if row is None or row.origin != "user":
                    known = list(session.exec(select(SourceRow.bibkey).where(SourceRow.origin == "user")))
                    from .errors import UnknownId

                    raise UnknownId("user source", bibkey, known)
                _delete_source(session, bibkey)

        self._retry(write, "remove from")

    # -- reading ----------------------------------------------------------------------------

    def user_catalog(self, bibkeys: "list[str] | None" = None,
                     only: "dict[str, set[str]] | None" = None) -> "catalog_mod.Catalog":
        """The users' sources (all, or those in `bibkeys`), read back through the validator. A
        stored document the validator refuses (written by another or older kb, or edited in
        the database) is skipped with a warning, so that one bad row breaks nobody's commands.
        `only` reads some laws of a source (bibkey -> law names, see schema.load_document)."""
        only = only or {}
        sources, laws = {}, {}
        stmt = select(SourceRow.bibkey, SourceRow.document).where(SourceRow.origin == "user")
        if bibkeys is not None:
            stmt = stmt.where(SourceRow.bibkey.in_(bibkeys))
        with self._errors("read"), _bulk(), Session(self.engine) as session:
            for bibkey, document in session.exec(stmt):
                try:
                    source, file_laws = load_document(json.loads(document), f"store:{bibkey}", origin="user",
                                                      only=only.get(bibkey))
                except (KbError, ValueError, RecursionError) as exc:
                    print(f"kb: warning: skipping '{bibkey}' in the store: {exc}; re-add it with "
                          f"`kb add --replace`", file=sys.stderr)
                    continue
                sources[source.bibkey] = source
                laws.update((law.id, law) for law in file_laws)
        return catalog_mod.Catalog(sources, laws)

    def related_sources(self, bibkey: str) -> "list[str]":
        """User sources that declare a relation towards `bibkey` or one of its laws."""
        stmt = select(RelationRow.owner, RelationRow.target).join(
            SourceRow, SourceRow.bibkey == RelationRow.owner).where(SourceRow.origin == "user")
        with self._errors("read"), Session(self.engine) as session:
            return sorted({owner for owner, target in session.exec(stmt)
                           if owner != bibkey and target.split(".")[0] == bibkey})

    def query(self, kind=None, tag=None, source=None, text_=None, year=None, verified=None) -> "list[str]":
        """Law ids matching every given filter, in catalog order."""
        return [row.id for row in self.summaries(kind, tag, source, text_, year, verified)]

    def summaries(self, kind=None, tag=None, source=None, text_=None, year=None,
                  verified=None) -> "list[LawSummary]":
        """What `kb list` shows of each matching law, in catalog order, from the indexed columns
        alone: listing 1e5 laws must not parse and validate 1e5 documents."""
        from .listing import rows, summary_sql

        sql, params = summary_sql("?" if self.engine.dialect.paramstyle == "qmark" else "%s", kind=kind, tag=tag,
                                  source=source, text_=text_, year=year, verified=verified)
        with self._errors("read"), self.engine.connect() as conn:
            return rows(conn.exec_driver_sql(sql, tuple(params)).all())

    def counts(self) -> dict:
        with self._errors("read"), Session(self.engine) as session:
            return {
                "sources": len(session.exec(select(SourceRow.bibkey)).all()),
                "laws": len(session.exec(select(LawRow.id)).all()),
                "constants": len(session.exec(select(ConstantRow.id)).all()),
                "checks": len(session.exec(select(CheckRow.id)).all()),
            }


def _sqlite_pragmas(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # transactions begin in the "begin" hook above
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    timeout = int(os.environ.get("KB_BUSY_TIMEOUT", BUSY_TIMEOUT_MS))
    cursor.execute(f"PRAGMA busy_timeout={timeout}")  # a concurrent writer waits instead of failing
    # up to 64 MB of page cache (SQLite's default is 2 MB, allocated as used): a `kb add` of 1e5
    # laws then writes each page to the WAL once instead of spilling it again and again (-25%)
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KB}")
    # WAL: readers see the last commit while a writer works (a long `kb add --replace` blocks no
    # `kb list`). The mode is stored in the file, so it is set once; a read-only store keeps its mode.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception:  # read-only file or URL (mode=ro), or another process holds a lock
            pass
    cursor.close()


def _has_tables(engine) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table(Meta.__tablename__)


# SQLite / PostgreSQL failures a user can act on: (words in the driver's message, what to say)
_FAILURES = (
    (("database is locked", "database is busy", "deadlock detected", "could not obtain lock"),
     "the store is busy; try again (another kb is writing {where})"),
    (("disk image is malformed", "file is not a database", "malformed database"),
     "the store {where} is damaged ({detail}); restore it from a backup, or move it aside and run kb "
     "again to start a new one (your own laws are then re-added with kb add)"),
    (("readonly database", "read-only", "read only", "unable to open database file", "permission denied"),
     "cannot {doing} the store {where}: it is read-only or cannot be opened ({detail}); use a writable "
     "file (--db or KB_DATABASE_URL)"),
    (("database or disk is full", "no space left", "disk full", "could not extend file"),
     "cannot {doing} the store {where}: the disk is full ({detail}); free some space and try again "
     "(nothing was changed)"),
)


def _explain(exc, where: str, doing: str) -> KbError:
    original = getattr(exc, "orig", None) or exc
    detail = (str(original).splitlines() or [type(original).__name__])[0].strip()
    low = detail.lower()
    for words, message in _FAILURES:
        if any(w in low for w in words):
            error = KbError(message.format(where=where, doing=doing, detail=detail))
            error.busy = words is _FAILURES[0][0]
            return error
    return KbError(f"cannot {doing} the store {where}: {type(original).__name__}: {detail}")


@contextmanager
def _bulk():
    """No cyclic garbage collection while a big document is parsed, validated and written: the
    objects it creates hold no cycles, and each collection would walk all of them again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _redact(url: str) -> str:
    """Hide the secrets of a URL shown in a message (kb.redact is the one place that knows how)."""
    from .redact import redact_url

    return redact_url(url)


def _to_json(data) -> str:
    """The stored JSON of a parsed law file (Decimal and dates as their text). orjson, where it
    is installed, writes the same JSON ~10x faster (3.5 s of a `kb add` of 1e5 laws); anything
    it refuses (an integer beyond 64 bits) is written by the standard module."""
    try:
        import orjson
    except ImportError:
        orjson = None
    if orjson is not None:
        try:
            return orjson.dumps(data, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(data, default=str, ensure_ascii=False)


def _source_document(source: Source) -> str:
    path = next(p for p in catalog_mod.law_files() if p.stem == source.bibkey)
    return _to_json(catalog_mod.schema_document(path))


def _delete_source(session, bibkey: str):
    # a subquery, not a list of ids: a source of 1e5 laws would pass SQLite's bound-variable limit
    law_ids = select(LawRow.id).where(LawRow.source == bibkey).scalar_subquery()
    for table in (VariableRow, ConstantRow, ConditionRow, CheckRow):
        session.exec(delete(table).where(table.law.in_(law_ids)))
    session.exec(delete(RelationRow).where(RelationRow.owner == bibkey))
    session.exec(delete(LawRow).where(LawRow.source == bibkey))
    session.exec(delete(SourceRow).where(SourceRow.bibkey == bibkey))


_COLUMNS = {
    "kb_law": ("id", "source", "position", "name", "title", "kind", "symbol", "quantity", "unit", "formula",
               "latex", "location", "verified", "tags", "origin", "search_text"),
    "kb_variable": ("law", "position", "symbol", "meaning", "unit", "fitted_lo", "fitted_hi"),
    "kb_constant": ("law", "position", "symbol", "value", "uncertainty", "unit", "location", "verified"),
    "kb_condition": ("law", "position", "key", "value"),
    "kb_check": ("law", "position", "label", "location", "expr", "expect"),
    "kb_relation": ("owner", "subject", "kind", "target", "note"),
}


def _insert(session, source: Source, laws, document: str):
    """Plain tuples through the driver's executemany, CHUNK laws at a time, in the open
    transaction: an ORM object per row costs ~100x more, SQLAlchemy's per-row parameter
    processing ~3x more, and a file of 1e5 laws has ~1e6 rows."""
    conn = session.connection()
    conn.execute(insert(SourceRow.__table__), [dict(
        bibkey=source.bibkey, short=source.short, title=source.title, authors="; ".join(source.authors),
        year=source.year, arxiv=source.arxiv, origin=source.origin, verified=source.verified, document=document)])
    # in id order (each keeps its position): the id and law indexes then grow at their ends
    # instead of splitting pages all over the b-trees (a third of the time for 1e5 laws)
    ordered = sorted(enumerate(laws), key=lambda item: item[1].id)
    for start in range(0, len(ordered), CHUNK):
        rows = {table: [] for table in _COLUMNS}
        for pos, law in ordered[start:start + CHUNK]:
            p = law.predicts
            rows["kb_law"].append((law.id, source.bibkey, pos, law.name, law.title, law.kind, p.symbol, p.quantity,
                                   p.unit, law.formula, law.latex, law.location, law.verified, " ".join(law.tags),
                                   source.origin, search_text(law, source)))
            rows["kb_variable"] += [(law.id, i, v.symbol, v.meaning, v.unit, *(v.fitted or (None, None)))
                                    for i, v in enumerate(law.variables)]
            rows["kb_constant"] += [(law.id, i, c.symbol, c.printed, c.uncertainty, c.unit, c.location, c.verified)
                                    for i, c in enumerate(law.constants)]
            rows["kb_condition"] += [(law.id, i, k, v) for i, (k, v) in enumerate(law.conditions)]
            rows["kb_check"] += [(law.id, i, c.label, c.location, c.expr, c.expect) for i, c in enumerate(law.checks)]
        if start + CHUNK >= len(laws):
            rows["kb_relation"] = [(source.bibkey, r.source, r.kind, r.target, r.note) for r in source.relations]
        for table, values in rows.items():  # laws first: the others reference them
            if values:
                _executemany(conn, table, values)


def _executemany(conn, table: str, values: list) -> None:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = _COLUMNS[table]
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})",
                         values)
