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
        raise UnknownId("law or source", ident, everything.ids()) from None


def law(ident: str, db: "str | None" = None):
    target = resolve(ident, db)
    if not hasattr(target, "formula"):
        laws = catalog_for(ident, db).laws_of(ident)
        raise UnknownId("law (a source was given; pick one of its laws)", ident, [x.id for x in laws])
    return target
