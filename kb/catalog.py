"""The published literature, read from the packaged `laws/*.toml` (no ORM needed to read one).

`published()` parses every law file once per process (a few ms with `tomllib`); the store
(`store.py`) mirrors the same documents for queries and adds the users' own laws.
"""

import hashlib
import os
import pickle
import warnings
from functools import lru_cache
from pathlib import Path

from . import resources
from .errors import BadFile, KbError, UnknownId
from .schema import Law, Source, load_document, parse_toml


class Catalog:
    def __init__(self, sources: "dict[str, Source]", laws: "dict[str, Law]"):
        self.sources, self.laws = sources, laws
        self.aliases = {f"{law.source}.{a}": law.id for law in laws.values() for a in law.aliases}

    def ids(self) -> "list[str]":
        return sorted(self.laws) + sorted(self.sources)

    def _folded(self) -> dict:
        """Lower-cased ids and source aliases -> canonical id (built on first use, so that a
        pickled catalog from an older kb needs nothing new)."""
        table = self.__dict__.get("_folded_ids")
        if table is None:
            table = {}
            for ident in list(self.laws) + list(self.aliases):
                table.setdefault(ident.lower(), self.aliases.get(ident, ident))
            for source in self.sources.values():
                for name in (source.bibkey, *getattr(source, "aliases", ())):
                    table.setdefault(name.lower(), source.bibkey)
            self.__dict__["_folded_ids"] = table
        return table

    def canonical(self, ident: str) -> "str | None":
        """The id an input means: exact, else case-insensitive, else a source alias, also as
        the prefix of a law id ('Chinchilla.approach3' -> 'hoffmann2022.approach3')."""
        if ident in self.laws or ident in self.sources or ident in self.aliases:
            return ident
        folded = self._folded()
        low = ident.strip().lower()
        if low in folded:
            return folded[low]
        head, dot, rest = low.partition(".")
        if dot and head in folded and folded[head] in self.sources:
            return folded.get(f"{folded[head]}.{rest}".lower())
        return None

    def suggestions(self) -> "list[str]":
        """What an unknown id is compared with: ids and the names people use (aliases)."""
        names = self.ids()
        for source in self.sources.values():
            names += list(getattr(source, "aliases", ()))
        return names

    def has(self, ident: str) -> bool:
        return self.canonical(ident) is not None

    def law(self, ident: str) -> Law:
        if ident in self.laws:
            return self.laws[ident]
        if ident in self.aliases:
            target = self.aliases[ident]
            warnings.warn(f"'{ident}' is an older name of '{target}'", DeprecationWarning, stacklevel=2)
            return self.laws[target]
        found = self.canonical(ident)
        if found in self.laws:
            return self.laws[found]
        raise UnknownId("law", ident, list(self.laws) + list(self.aliases))

    def resolve(self, ident: str) -> "Law | Source":
        found = self.canonical(ident)
        if found in self.sources:
            return self.sources[found]
        if found is not None:
            return self.law(found)
        raise UnknownId("law or source", ident, self.suggestions())

    def laws_of(self, bibkey: str) -> "list[Law]":
        return [law for law in self.laws.values() if law.source == bibkey]

    def merged(self, other: "Catalog") -> "Catalog":
        return Catalog({**other.sources, **self.sources}, {**other.laws, **self.laws})


def schema_document(path: Path) -> dict:
    """The parsed TOML of a law file (floats kept as Decimal strings' digits)."""
    from .bounded import read_text  # bounded: /dev/zero or a 10 GB file is refused, not loaded

    return parse_toml(read_text(path, what="law file"), str(path))


def read_file(path: Path, origin: str = "user") -> "tuple[Source, list[Law]]":
    return load_document(schema_document(path), Path(path).name, origin)


MODELS_FILE = "models.toml"  # models whose paper is not a source here (kb/models.py reads it)


def law_files() -> "list[Path]":
    return sorted(p for p in resources.laws_dir().glob("*.toml") if p.name != MODELS_FILE)


@lru_cache(maxsize=1)
def published() -> Catalog:
    """The packaged catalog. Parsing and validating every TOML file takes ~150 ms, so the result
    is kept in the user's cache directory, keyed by the files' digest and the schema code; a
    changed law file or a new kb rebuilds it. Without a writable cache it is simply parsed."""
    path = _cache_path()
    if path is not None and path.exists():
        try:
            with open(path, "rb") as f:
                cached = pickle.load(f)  # our own file, in the user's own cache directory
            if isinstance(cached, Catalog):
                return cached
        except Exception:  # a truncated or stale cache is rebuilt, never trusted
            pass
    catalog = _parse_published()
    if path is not None:
        from . import safe_write

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            safe_write.write_bytes(path, pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, KbError):  # no cache is only slower
            pass
    return catalog


def _cache_path() -> "Path | None":
    if os.environ.get("KB_NO_CACHE"):
        return None
    root = os.environ.get("KB_CACHE_DIR")
    if not root:
        try:
            import platformdirs

            root = platformdirs.user_cache_path("scaling-kb")
        except Exception:
            return None
    code = hashlib.sha256(Path(__file__).with_name("schema.py").read_bytes()
                          + Path(__file__).read_bytes()).hexdigest()[:16]
    return Path(root) / f"catalog-{digest()[:24]}-{code}.pickle"


def _parse_published() -> Catalog:
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
