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
