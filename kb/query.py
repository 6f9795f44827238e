"""Filtering and text search over laws, the same whether the store or the packaged catalog
answers, and the ranking of search results (exact id / alias / author before substring)."""

import re


def search_text(law, source) -> str:
    """The lower-cased text `kb search` matches a law against (the store keeps it in a column)."""
    words = [law.id, law.title, law.kind, law.predicts.symbol, law.predicts.quantity, law.formula,
             law.location, source.short, source.title, " ".join(source.authors), str(source.year),
             " ".join(law.tags), " ".join(law.aliases), " ".join(getattr(source, "aliases", ()))]
    words += [f"{k} {v}" for k, v in law.conditions]
    words += [f"{v.symbol} {v.meaning}" for v in law.variables] + [c.symbol for c in law.constants]
    words += [n.text for n in law.notes + law.claims]
    return " ".join(words).lower()


def filter_laws(catalog, kind=None, tag=None, source=None, text_=None, year=None, verified=None) -> "list[str]":
    """What `Store.query` answers, computed on a catalog in memory (catalog order)."""
    words = (text_ or "").lower().split()
    out = []
    for law in catalog.laws.values():
        src = catalog.sources[law.source]
        if ((kind and law.kind != kind) or (tag and tag not in law.tags) or (source and law.source != source)
                or (year and src.year != int(year)) or (verified is not None and law.verified != verified)):
            continue
        if words:
            text = search_text(law, src)
            if not all(w in text for w in words):
                continue
        out.append(law.id)
    return out


def _surname(author: str) -> str:
    return author.replace(",", " ").split()[-1].lower() if author.split() else ""


def rank(ids, text: str, catalog) -> "list[str]":
    """Search hits best first: a word that is the law's id or name, its source's bibkey, short
    name or alias; then one that is an author's surname or starts the bibkey; then the rest (a
    substring somewhere in the text). Ties keep catalog order."""
    words = [w for w in re.split(r"\s+", text.lower()) if w]

    def score(ident):
        law = catalog.laws[ident]
        src = catalog.sources[law.source]
        exact = {law.id.lower(), law.name.lower(), src.bibkey, src.short.lower(), *getattr(src, "aliases", ())}
        if any(w in exact for w in words):
            return 0
        if any(w in {_surname(a) for a in src.authors} or src.bibkey.startswith(w) for w in words):
            return 1
        return 2

    return sorted(ids, key=score)
