"""The SQLite (or PostgreSQL) store, through sqlmodel.

Tables mirror the data model so that `kb list` / `kb search` can query them; each source and
law row also keeps its validated document (JSON text) so that reading a law back goes
through the same validator as a law file. ORM rows never leave this module: callers get
`schema.Source` / `schema.Law` objects.

The published laws are synced from the packaged TOML whenever their digest changes (one
transaction); users' laws (`kb add`, `kb fit --save`) live beside them and can never replace
a published id.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from sqlalchemy import event, text
from sqlmodel import Field, Session, SQLModel, create_engine, delete, select

from . import catalog as catalog_mod
from .errors import BadFile, KbError
from .query import search_text
from .schema import SCHEMA_VERSION, Law, Source, load_document

STORE_VERSION = 1  # bump with a migration in `_migrate` when the tables change


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


def database_url(explicit: "str | None" = None) -> str:
    url = explicit or os.environ.get("KB_DATABASE_URL")
    if url:
        return url
    import platformdirs

    path = platformdirs.user_data_path("scaling-kb") / "kb.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Store:
    def __init__(self, url: "str | None" = None):
        self.url = database_url(url)
        try:
            self.engine = create_engine(self.url)
        except Exception as exc:  # sqlalchemy's ArgumentError / missing driver
            raise KbError(f"cannot use database URL '{_redact(self.url)}': {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # Take the write lock when a transaction starts (BEGIN IMMEDIATE): two `kb add` or
            # two first syncs then queue on busy_timeout instead of failing to upgrade a read lock.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        try:
            with self._init_lock():
                SQLModel.metadata.create_all(self.engine)
                self._migrate()
                self.sync()
        except KbError:
            raise
        except Exception as exc:
            raise KbError(f"cannot open the store at '{_redact(self.url)}': {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

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
                session.add(Meta(key="store_version", value=str(STORE_VERSION)))
                session.commit()
            elif int(row.value) > STORE_VERSION:
                raise KbError(f"the store at '{_redact(self.url)}' was written by a newer scaling-kb "
                              f"(store version {row.value}); upgrade kb")
            # versions < STORE_VERSION would be migrated here, one step at a time

    # -- published laws ---------------------------------------------------------------------

    def sync(self, force: bool = False) -> bool:
        """Reload the published laws when the packaged files changed. Returns True if it did."""
        digest = catalog_mod.digest()
        with Session(self.engine) as session:
            row = session.get(Meta, "published_digest")
            if row is not None and row.value == digest and not force:
                return False
        published = catalog_mod.published()
        with Session(self.engine) as session, session.begin():
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
        with Session(self.engine) as session, session.begin():
            existing = session.get(SourceRow, source.bibkey)
            if existing is not None:
                if not replace:
                    raise KbError(f"'{source.bibkey}' is already in the store; remove it first or use --replace")
                _delete_source(session, source.bibkey)
                session.flush()
            _insert(session, source, laws, _to_json(data))
        return source, laws

    def save_law(self, data: dict, where: str, replace: bool = False) -> "tuple[Source, list[Law]]":
        """Add the laws of a one-source document (a fit) to that user source, creating it if
        new: several fits of one lab live side by side (mylab2026.fit1, mylab2026.fit2). A law
        of the same id is replaced only with `replace`."""
        source, laws = load_document(data, where, origin="user")
        if source.bibkey in catalog_mod.published().sources:
            raise KbError(f"'{source.bibkey}' is a published source; a user law cannot join it (choose another bibkey)")
        with Session(self.engine) as session, session.begin():
            existing = session.get(SourceRow, source.bibkey)
            if existing is not None:
                stored = json.loads(existing.document)
                names = {law.name for law in laws}
                clash = [t.get("name") for t in stored.get("law", []) if t.get("name") in names]
                if clash and not replace:
                    raise KbError(f"'{source.bibkey}.{clash[0]}' is already in the store; use --replace to overwrite it")
                data = {**stored, "law": [t for t in stored.get("law", []) if t.get("name") not in names]
                        + list(data.get("law", []))}
                source, laws = load_document(data, where, origin="user")
                _delete_source(session, source.bibkey)
                session.flush()
            _insert(session, source, laws, _to_json(data))
        return source, laws

    def remove_law(self, ident: str) -> "list[str]":
        """Remove a user law (bibkey.name) or a whole user source (bibkey); published laws are
        never removable. Returns the ids removed."""
        bibkey, _, name = ident.partition(".")
        published = catalog_mod.published()
        if published.has(ident) or bibkey in published.sources:
            raise KbError(f"'{ident}' is a published law; published laws cannot be removed")
        with Session(self.engine) as session, session.begin():
            row = session.get(SourceRow, bibkey)
            if row is None or row.origin != "user":
                from .errors import UnknownId

                known = [law.id for law in self.user_catalog().laws.values()]
                known += [r.bibkey for r in session.exec(select(SourceRow).where(SourceRow.origin == "user"))]
                raise UnknownId("user law or source", ident, known)
            stored = json.loads(row.document)
            tables = stored.get("law", [])
            if name and name not in {t.get("name") for t in tables}:
                from .errors import UnknownId

                raise UnknownId("user law", ident, [f"{bibkey}.{t.get('name')}" for t in tables])
            keep = [t for t in tables if name and t.get("name") != name]
            removed = [f"{bibkey}.{t.get('name')}" for t in tables if t not in keep]
            _delete_source(session, bibkey)
            session.flush()
            if keep:
                data = {**stored, "law": keep}
                source, laws = load_document(data, f"store:{bibkey}", origin="user")
                _insert(session, source, laws, _to_json(data))
        return removed

    def remove(self, bibkey: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(SourceRow, bibkey)
            if row is None or row.origin != "user":
                known = [r.bibkey for r in session.exec(select(SourceRow).where(SourceRow.origin == "user"))]
                from .errors import UnknownId

                raise UnknownId("user source", bibkey, known)
            _delete_source(session, bibkey)

    # -- reading ----------------------------------------------------------------------------

    def user_catalog(self) -> "catalog_mod.Catalog":
        sources, laws = {}, {}
        with Session(self.engine) as session:
            for row in session.exec(select(SourceRow).where(SourceRow.origin == "user")):
                source, file_laws = load_document(json.loads(row.document), f"store:{row.bibkey}", origin="user")
                sources[source.bibkey] = source
                laws.update((law.id, law) for law in file_laws)
        return catalog_mod.Catalog(sources, laws)

    def query(self, kind=None, tag=None, source=None, text_=None, year=None, verified=None) -> "list[str]":
        """Law ids matching every given filter, in catalog order."""
        stmt = select(LawRow.id, LawRow.source, LawRow.position).join(SourceRow, SourceRow.bibkey == LawRow.source)
        if kind:
            stmt = stmt.where(LawRow.kind == kind)
        if tag:
            stmt = stmt.where((" " + LawRow.tags + " ").contains(f" {tag} "))
        if source:
            stmt = stmt.where(LawRow.source == source)
        if year:
            stmt = stmt.where(SourceRow.year == int(year))
        if verified is not None:
            stmt = stmt.where(LawRow.verified == verified)
        for word in (text_ or "").lower().split():
            stmt = stmt.where(LawRow.search_text.contains(word))
        with Session(self.engine) as session:
            rows = session.exec(stmt.order_by(LawRow.source, LawRow.position)).all()
        return [r[0] for r in rows]

    def counts(self) -> dict:
        with Session(self.engine) as session:
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
    cursor.execute("PRAGMA busy_timeout=10000")  # concurrent `kb add` waits instead of failing
    cursor.close()


def _redact(url: str) -> str:
    """Hide the secrets of a URL shown in a message (kb.redact is the one place that knows how)."""
    from .redact import redact_url

    return redact_url(url)


def _to_json(data) -> str:
    return json.dumps(data, default=str, ensure_ascii=False)


def _source_document(source: Source) -> str:
    path = next(p for p in catalog_mod.law_files() if p.stem == source.bibkey)
    return _to_json(catalog_mod.schema_document(path))


def _delete_source(session, bibkey: str):
    law_ids = list(session.exec(select(LawRow.id).where(LawRow.source == bibkey)))
    for table in (VariableRow, ConstantRow, ConditionRow, CheckRow):
        session.exec(delete(table).where(table.law.in_(law_ids)))
    session.exec(delete(RelationRow).where(RelationRow.owner == bibkey))
    session.exec(delete(LawRow).where(LawRow.source == bibkey))
    session.exec(delete(SourceRow).where(SourceRow.bibkey == bibkey))


def _insert(session, source: Source, laws, document: str):
    session.add(SourceRow(bibkey=source.bibkey, short=source.short, title=source.title,
                          authors="; ".join(source.authors), year=source.year, arxiv=source.arxiv,
                          origin=source.origin, verified=source.verified, document=document))
    session.flush()  # the source row must exist before laws reference it (foreign keys on)
    for pos, law in enumerate(laws):
        session.add(LawRow(id=law.id, source=source.bibkey, position=pos, name=law.name, title=law.title,
                           kind=law.kind, symbol=law.predicts.symbol, quantity=law.predicts.quantity,
                           unit=law.predicts.unit, formula=law.formula, latex=law.latex, location=law.location,
                           verified=law.verified, tags=" ".join(law.tags), origin=source.origin,
                           search_text=search_text(law, source)))
    session.flush()
    for law in laws:
        for i, v in enumerate(law.variables):
            session.add(VariableRow(law=law.id, position=i, symbol=v.symbol, meaning=v.meaning, unit=v.unit,
                                    fitted_lo=v.fitted[0] if v.fitted else None,
                                    fitted_hi=v.fitted[1] if v.fitted else None))
        for i, c in enumerate(law.constants):
            session.add(ConstantRow(law=law.id, position=i, symbol=c.symbol, value=c.printed,
                                    uncertainty=c.uncertainty, unit=c.unit, location=c.location, verified=c.verified))
        for i, (k, v) in enumerate(law.conditions):
            session.add(ConditionRow(law=law.id, position=i, key=k, value=v))
        for i, c in enumerate(law.checks):
            session.add(CheckRow(law=law.id, position=i, label=c.label, location=c.location, expr=c.expr, expect=c.expect))
    for r in source.relations:
        session.add(RelationRow(owner=source.bibkey, subject=r.source, kind=r.kind, target=r.target, note=r.note))


