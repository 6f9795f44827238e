"""Citations from `references.bib`: BibTeX entries, author-year text, reference-list items.

pybtex parses the file; formatting is ours (pybtex's `plain` style sentence-cases titles and
lets any URL scheme through). Only http(s) and doi links are produced.
"""

import re
from functools import lru_cache

from . import resources
from .errors import UnknownId

SAFE_URL = re.compile(r"^(https?://|doi:)", re.IGNORECASE)


@lru_cache(maxsize=1)
def bibliography():
    from pybtex.database import parse_file

    return parse_file(str(resources.bibliography()), bib_format="bibtex")


def keys() -> "list[str]":
    return list(bibliography().entries.keys())


def entry(key: str):
    bib = bibliography()
    if key not in bib.entries:
        raise UnknownId("reference", key, list(bib.entries.keys()))
    return bib.entries[key]


def _clean(text: str) -> str:
    return re.sub(r"[{}]", "", text or "").replace("\\&", "&").replace("--", "–").strip()


def _names(e) -> "list[str]":
    return [_clean(" ".join(p.last_names)) for p in e.persons.get("author", [])]


def _full_names(e) -> "list[str]":
    out = []
    for p in e.persons.get("author", []):
        first = " ".join(p.first_names + p.middle_names)
        out.append(_clean(" ".join(x for x in (first, " ".join(p.prelast_names), " ".join(p.last_names)) if x)))
    return out


def author_year(key: str) -> str:
    """'Kaplan et al. (2020)'."""
    e = entry(key)
    names = _names(e)
    who = names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."
    return f"{who} ({e.fields.get('year', 'n.d.')})"


def links(key: str) -> "list[tuple[str, str]]":
    """(label, url) pairs: arXiv, DOI, URL, all http(s)."""
    e = entry(key)
    out = []
    eprint = e.fields.get("eprint")
    if eprint and e.fields.get("archivePrefix", "arXiv").lower() == "arxiv":
        out.append((f"arXiv:{eprint}", f"https://arxiv.org/abs/{_clean(eprint)}"))
    doi = e.fields.get("doi")
    if doi:
        out.append((f"doi:{doi}", f"https://doi.org/{_clean(doi)}"))
    url = _clean(e.fields.get("url", ""))
    if url and SAFE_URL.match(url) and url not in {u for _, u in out}:
        out.append(("link", url))
    return [(label, u) for label, u in out if u.lower().startswith(("https://", "http://"))]


def reference(key: str) -> dict:
    """A structured reference-list item."""
    e = entry(key)
    venue = e.fields.get("booktitle") or e.fields.get("journal") or e.fields.get("publisher") or ""
    return {"key": key, "authors": _full_names(e), "year": _clean(e.fields.get("year", "")),
            "title": _clean(e.fields.get("title", "")), "venue": _clean(venue), "cite": author_year(key),
            "links": [{"label": label, "url": url} for label, url in links(key)]}


def text(key: str) -> str:
    r = reference(key)
    authors = r["authors"]
    who = ", ".join(authors[:-1]) + (", and " if len(authors) > 2 else " and ") + authors[-1] if len(authors) > 1 else "".join(authors)
    parts = [f"{who} ({r['year']}).", f"{r['title']}."]
    if r["venue"]:
        parts.append(f"{r['venue']}.")
    parts += [link["url"] for link in r["links"][:1]]
    return " ".join(parts)


def markdown(key: str) -> str:
    """A Markdown reference-list item: text escaped, links http(s) only."""
    from .render import md_escape

    r = reference(key)
    parts = [f"{md_escape(', '.join(r['authors']))} ({r['year']}).", f"*{md_escape(r['title'])}*."]
    if r["venue"]:
        parts.append(f"{md_escape(r['venue'])}.")
    parts += [f"[{md_escape(link['label'])}](<{link['url']}>)" for link in r["links"]]
    return " ".join(parts)


def bibtex(key: str) -> str:
    from pybtex.database import BibliographyData, Entry

    e = entry(key)
    fields = {k: v for k, v in e.fields.items()
              if k.lower() not in ("url", "doi") or SAFE_URL.match(_clean(v)) or k.lower() == "doi" and "javascript" not in v.lower()}
    clean = Entry(e.type, fields=fields, persons=e.persons)
    return BibliographyData(entries={key: clean}).to_string("bibtex").strip()


def short_authors(key: str) -> str:
    """'Kaplan et al.' (natbib's short author list)."""
    names = _names(entry(key))
    return names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."


def bibitem(key: str) -> dict:
    """What a natbib `\\bibitem[short(year)long]{key}` needs, plus the reference itself."""
    ref = reference(key)
    return {**ref, "short": short_authors(key), "long": ", ".join(_names(entry(key)))}


def from_source(source) -> dict:
    """A reference-list item for a source with no references.bib entry (a user's law file):
    its own title, authors, year and link (http(s) only)."""
    authors = list(source.authors)
    last = [a.split(",")[0].split()[-1] if a.strip() else a for a in authors]
    who = (last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2
           else f"{last[0]} et al." if last else source.short or source.bibkey)
    urls = []
    if source.arxiv:
        urls.append((f"arXiv:{source.arxiv}", f"https://arxiv.org/abs/{source.arxiv}"))
    if source.url:
        urls.append(("link", source.url))
    links = [{"label": label, "url": u} for label, u in urls
             if re.match(r"^https?://[^\s\"'<>]+$", u, re.IGNORECASE)]
    return {"key": source.bibkey, "authors": authors, "year": str(source.year or ""), "title": source.title,
            "venue": source.venue or "", "cite": f"{who} ({source.year or 'n.d.'})", "links": links}
