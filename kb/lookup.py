"""Find a law or source by id: the packaged TOML first (fast, no ORM), then the store.

A user id given exactly reads back only what showing it needs: its source (with just that law,
when it is a law id) and the user sources relating to it, each through the validator. Anything
else (a case variant, an alias, an unknown id) reads the whole store, as before."""

from . import catalog as catalog_mod
from .errors import UnknownId


def full_catalog(db: "str | None" = None, store=None):
    """Published and user laws together (opens the store unless one is given)."""
    if store is None:
        from .store import Store

        store = Store(db)
    return catalog_mod.published().merged(store.user_catalog())


def _exact_catalog(ident: str, store):
    """Published laws and the few user sources `ident` needs, or None when `ident` is not
    exactly a user law id or bibkey there."""
    bibkey, _, name = ident.partition(".")
    related = store.related_sources(bibkey)
    only = {b: set() for b in related}  # their sources only: a relation is the source's
    if name:
        only[bibkey] = {name}
    cat = catalog_mod.published().merged(store.user_catalog([bibkey, *related], only))
    if ident in cat.laws or ident in cat.sources:
        return cat
    return None


def catalog_for(ident: str, db: "str | None" = None):
    """The smallest catalog holding `ident` if anything does: the published one, the few user
    sources an exact user id needs, else the whole store (aliases, case, suggestions)."""
    published = catalog_mod.published()
    if published.has(ident):
        return published
    from .store import Store

    store = Store(db)
    return _exact_catalog(ident, store) or full_catalog(store=store)


def resolve_in(ident: str, db: "str | None" = None):
    """(the law or source `ident` means, a catalog holding it and what relates to it)."""
    cat = catalog_for(ident, db)
    try:
        return cat.resolve(ident), cat
    except UnknownId:
        raise UnknownId("law or source", ident, cat.suggestions()) from None


def resolve(ident: str, db: "str | None" = None):
    return resolve_in(ident, db)[0]


def law(ident: str, db: "str | None" = None):
    """A law id, or a source standing for its headline loss law (`kb eval chinchilla N=70B D=1.4T`)."""
    target, cat = resolve_in(ident, db)
    if not hasattr(target, "formula"):
        if target.headline_loss:
            return cat.law(target.headline_loss)
        laws = cat.laws_of(target.bibkey)
        raise UnknownId("law (a source without a headline loss law was given; pick one of its laws)", ident,
                        [x.id for x in laws])
    return target
