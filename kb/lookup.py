"""Find a law or source by id: the packaged TOML first (fast, no ORM), then the store."""

from . import catalog as catalog_mod
from .errors import UnknownId


def full_catalog(db: "str | None" = None, store=None):
    """Published and user laws together (opens the store unless one is given)."""
    if store is None:
        from .store import Store

        store = Store(db)
    return catalog_mod.published().merged(store.user_catalog())


def catalog_for(ident: str, db: "str | None" = None):
    published = catalog_mod.published()
    return published if published.has(ident) else full_catalog(db)


def resolve(ident: str, db: "str | None" = None):
    published = catalog_mod.published()
    if published.has(ident):
        return published.resolve(ident)
    everything = full_catalog(db)
    try:
        return everything.resolve(ident)
    except UnknownId:
        raise UnknownId("law or source", ident, everything.suggestions()) from None


def law(ident: str, db: "str | None" = None):
    """A law id, or a source standing for its headline loss law (`kb eval chinchilla N=70B D=1.4T`)."""
    target = resolve(ident, db)
    if not hasattr(target, "formula"):
        cat = catalog_for(ident, db)
        if target.headline_loss:
            return cat.law(target.headline_loss)
        laws = cat.laws_of(target.bibkey)
        raise UnknownId("law (a source without a headline loss law was given; pick one of its laws)", ident,
                        [x.id for x in laws])
    return target


def store_has_user_laws(db: "str | None" = None) -> bool:
    """Whether the store may hold laws of users. A SQLite store is peeked at with the standard
    library (milliseconds; sqlmodel costs ~330 ms to import): a missing file or one with no user
    source means the packaged catalog answers alone. Any other database, or a file that cannot
    be read this way, is opened as a store."""
    import os

    url = db or os.environ.get("KB_DATABASE_URL")
    if url is None:
        import platformdirs

        path = platformdirs.user_data_path("scaling-kb") / "kb.sqlite"
    elif url.startswith("sqlite:///") and "?" not in url:
        from pathlib import Path

        path = Path(url[len("sqlite:///"):])
    else:
        return True
    if not path.exists():
        return False
    import sqlite3

    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            (count,) = conn.execute("SELECT count(*) FROM kb_source WHERE origin = 'user'").fetchone()
        return count > 0
    except sqlite3.Error:
        return True


def query(db: "str | None" = None, **filters):
    """(catalog, law ids) matching `filters` (those of Store.query): the packaged catalog when
    the store holds only the published laws, else the store."""
    from .query import filter_laws

    if not store_has_user_laws(db):
        cat = catalog_mod.published()
        return cat, filter_laws(cat, **filters)
    from .store import Store

    store = Store(db)
    return full_catalog(store=store), store.query(**filters)
