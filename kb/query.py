"""The text `kb search` matches (the store keeps it in a column) and the ranking of search
results (exact id / alias / author before substring)."""

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


def _surname(author: str) -> str:
    return author.replace(",", " ").split()[-1].lower() if author.split() else ""


def rank(laws, text: str, sources) -> list:
    """Search hits (law summaries, catalog order) best first: a word that is the law's id or
    name, its source's bibkey, short name or alias; then one that is an author's surname or
    starts the bibkey; then the rest (a substring somewhere in the text). Ties keep catalog
    order. `sources` are the published sources; a user's source ranks by its ids alone."""
    words = [w for w in re.split(r"\s+", text.lower()) if w]

    def score(law):
        name = law.id.split(".", 1)[-1]
        exact = {law.id.lower(), name.lower(), law.source}
        src = sources.get(law.source)
        if src is not None:
            exact |= {src.short.lower(), *getattr(src, "aliases", ())}
        if any(w in exact for w in words):
            return 0
        surnames = {_surname(a) for a in src.authors} if src is not None else set()
        if any(w in surnames or law.source.startswith(w) for w in words):
            return 1
        return 2

    return sorted(laws, key=score)
