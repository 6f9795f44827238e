"""The published literature, read from the packaged `laws/*.toml` (no ORM needed to read one).

`published()` parses every law file once per process (a few ms with `tomllib`); the store
(`store.py`) mirrors the same documents for queries and adds the users' own laws.
"""

import hashlib
import warnings
from functools import lru_cache
from pathlib import Path

from . import resources
from .errors import BadFile, UnknownId
from .schema import Law, Source, load_document, parse_toml


class Catalog:
    def __init__(self, sources: "dict[str, Source]", laws: "dict[str, Law]"):
        self.sources, self.laws = sources, laws
        self.aliases = {f"{law.source}.{a}": law.id for law in laws.values() for a in law.aliases}

    def ids(self) -> "list[str]":
        return sorted(self.laws) + sorted(self.sources)

    def has(self, ident: str) -> bool:
        return ident in self.laws or ident in self.sources or ident in self.aliases

    def law(self, ident: str) -> Law:
        if ident in self.laws:
            return self.laws[ident]
        if ident in self.aliases:
            target = self.aliases[ident]
            warnings.warn(f"'{ident}' is an older name of '{target}'", DeprecationWarning, stacklevel=2)
            return self.laws[target]
        raise UnknownId("law", ident, list(self.laws) + list(self.aliases))

    def resolve(self, ident: str) -> "Law | Source":
        if ident in self.sources:
            return self.sources[ident]
        if ident in self.laws or ident in self.aliases:
            return self.law(ident)
        raise UnknownId("law or source", ident, self.ids())

    def laws_of(self, bibkey: str) -> "list[Law]":
        return [law for law in self.laws.values() if law.source == bibkey]

    def merged(self, other: "Catalog") -> "Catalog":
        return Catalog({**other.sources, **self.sources}, {**other.laws, **self.laws})


def schema_document(path: Path) -> dict:
    """The parsed TOML of a law file (floats kept as Decimal strings' digits)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}") from None
    return parse_toml(text, str(path))


def read_file(path: Path, origin: str = "user") -> "tuple[Source, list[Law]]":
    return load_document(schema_document(path), Path(path).name, origin)


def law_files() -> "list[Path]":
    return sorted(resources.laws_dir().glob("*.toml"))


@lru_cache(maxsize=1)
def published() -> Catalog:
    sources, laws = {}, {}
    for path in law_files():
        source, file_laws = read_file(path, origin="published")
        if source.bibkey != path.stem:
            raise BadFile(f"{path.name}: bibkey '{source.bibkey}' must match the file name")
        sources[source.bibkey] = source
        laws.update((law.id, law) for law in file_laws)
    return Catalog(sources, laws)


def digest() -> str:
    """A hash of the packaged law files: the store refreshes its copy when it changes."""
    h = hashlib.sha256()
    for path in law_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()
