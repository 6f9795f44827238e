"""`kb list` / `kb search` rows straight from a SQLite store, without importing SQLAlchemy.

Importing sqlmodel costs more than listing 1e5 laws, so a SQLite store that needs no sync (its
store version and published digest are current) is read with the standard `sqlite3` module.
The SQL is built here once and is also what `Store.summaries` runs through its engine
(PostgreSQL, or a store that needs opening properly first). The store's URL and version live
here too, so that this module needs nothing from store.py.
"""

import os

from .schema import LawSummary

STORE_VERSION = 1  # bump with a migration in `store.Store._migrate` when the tables change


def database_url(explicit: "str | None" = None) -> str:
    url = explicit or os.environ.get("KB_DATABASE_URL")
    if url:
        return url
    import platformdirs

    path = platformdirs.user_data_path("scaling-kb") / "kb.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def summaries(**filters) -> "list[LawSummary]":
    """`Store().summaries(...)`, without opening the store when a SQLite file is current."""
    from . import catalog

    url = database_url()
    fast = fast_summaries(url, STORE_VERSION, catalog.digest(), **filters)
    if fast is not None:
        return fast
    from .store import Store

    return Store(url).summaries(**filters)

_COLUMNS = "l.id, l.source, l.kind, l.title, l.symbol, l.verified, l.origin, l.location, l.tags"


def summary_sql(mark: str, kind=None, tag=None, source=None, text_=None, year=None, verified=None):
    """(SQL, parameters) for the laws matching every filter, in catalog order; `mark` is the
    driver's placeholder ("?" or "%s"). LIKE patterns are escaped: `_` and `%` match themselves."""
    where, params = [], []
    if kind:
        where.append(f"l.kind = {mark}"), params.append(kind)
    if tag:
        where.append(f"(' ' || l.tags || ' ') LIKE {mark} ESCAPE '!'"), params.append(f"% {_escape(tag)} %")
    if source:
        where.append(f"l.source = {mark}"), params.append(source)
    if year:
        where.append(f"s.year = {mark}"), params.append(int(year))
    if verified is not None:
        where.append(f"l.verified = {mark}"), params.append(bool(verified))
    for word in (text_ or "").lower().split():
        where.append(f"l.search_text LIKE {mark} ESCAPE '!'"), params.append(f"%{_escape(word)}%")
    # the source's row only for its year (every law has one: a foreign key); the order is the
    # index ix_kb_law_order's, so SQLite reads it in order instead of sorting 1e5 rows
    join = " JOIN kb_source s ON s.bibkey = l.source" if year else ""
    sql = (f"SELECT {_COLUMNS} FROM kb_law l{join}"
           f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY l.source, l.position")
    return sql, params


def _escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def rows(raw) -> "list[LawSummary]":
    split = {}  # tags text -> tuple: a big source repeats a few tag sets

    def tags_of(text):
        found = split.get(text)
        if found is None:
            found = split[text] = tuple((text or "").split())
        return found

    make = LawSummary._make
    return [make((i, src, kind, title, symbol, bool(verified), origin, location, tags_of(tags)))
            for i, src, kind, title, symbol, verified, origin, location, tags in raw]


def fast_summaries(url: str, store_version: int, digest: str, **filters) -> "list[LawSummary] | None":
    """The summaries read with `sqlite3` alone, or None when the store must be opened by
    `store.Store` (not SQLite, not there yet, to be synced or migrated, or any error at all:
    the full path then reports it properly)."""
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    path = url.removeprefix("sqlite:///")
    if not path or not os.path.isfile(path):
        return None
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            meta = dict(conn.execute("SELECT key, value FROM kb_meta"))
            if meta.get("store_version") != str(store_version) or meta.get("published_digest") != digest:
                return None
            sql, params = summary_sql("?", **filters)
            return rows(conn.execute(sql, params))
    except sqlite3.Error:
        return None
