"""The data model (frozen dataclasses) and the one validator.

The same `load_document` checks packaged law files, files given to `kb add`, and documents
read back from a shared store, so a law means the same thing wherever it comes from.
Printed numbers stay strings (their digits carry their precision); floats are derived.
"""

import math
import re
from typing import NamedTuple
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from . import formula as formula_lang
from .errors import BadFile, KbError
from .units import dimension as units_dimension

SCHEMA_VERSION = 1
KINDS = ("loss", "allocation", "tabulated", "downstream", "transfer", "rule", "hyperparameter", "qualitative")
RELATION_KINDS = ("refits", "supersedes", "disputes", "reconciles", "extends", "reparametrises", "uses")
CHECK_FUNCTIONS = ("law", "N_opt", "D_opt", "L_opt")
# used with fullmatch: `$` would also match before a trailing newline ("loss\n")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BIBKEY = re.compile(r"[a-z][a-z0-9_-]*[0-9]{4}[a-z]?")
YEARS = (1900, 2999)  # a publication year; also keeps it inside every database's integer range
# Characters no text field may hold: PostgreSQL refuses NUL in text, and the other C0 controls
# (ANSI escapes, backspace...) would reach terminals and reports. Tab and newline are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Alternative:
    """Another value the paper prints for the same quantity (inconsistencies are stored, not fixed)."""

    value: str
    location: str
    note: str = ""


@dataclass(frozen=True)
class Constant:
    symbol: str
    printed: "str | None"  # exactly as printed; None when the paper's value could not be read
    unit: str
    location: str
    uncertainty: str = ""  # as printed ("± 0.02"), or "" when the paper prints none
    interval: "tuple[str, str] | None" = None
    interval_note: str = ""
    verified: bool = True
    note: str = ""
    alternatives: "tuple[Alternative, ...]" = ()

    @property
    def missing(self) -> bool:
        return self.printed is None

    @property
    def value(self) -> float:
        return math.nan if self.printed is None else float(self.printed)

    def __str__(self) -> str:
        if self.missing:
            return f"{self.symbol} = (not available) [{self.location}]"
        unc = f" {self.uncertainty}" if self.uncertainty else ""
        ci = f" ({self.interval[0]}, {self.interval[1]})" if self.interval else ""
        unit = f" {self.unit}" if self.unit else ""
        flag = "" if self.verified else " (unverified)"
        return f"{self.symbol} = {self.printed}{unc}{ci}{unit} [{self.location}]{flag}"


@dataclass(frozen=True)
class Variable:
    symbol: str
    meaning: str
    unit: str
    fitted: "tuple[float, float] | None" = None  # validity range in native units; outside warns

    def __str__(self) -> str:
        rng = f", fitted {self.fitted[0]:.3g} to {self.fitted[1]:.3g}" if self.fitted else ""
        return f"{self.symbol}: {self.meaning} [{self.unit}{rng}]"


@dataclass(frozen=True)
class Output:
    symbol: str
    quantity: str
    unit: str
    formula: str = ""


@dataclass(frozen=True)
class Check:
    """A number the paper prints that follows from its own constants; `kb check` reproduces it.
    `expr` is in the formula language over the law's names plus law(...), N_opt(C), D_opt(C),
    L_opt(C); all in the law's native units, as the paper prints them."""

    law: str
    label: str
    location: str
    expr: str
    expect: str
    abs_tol: "str | None" = None
    rel_tol: "str | None" = None
    compare: str = "=="  # or "<=", ">="
    note: str = ""
    # a printed number that does NOT follow from the printed constants: run and shown by
    # `kb check` as a recorded inconsistency, never counted as passed or failed
    inconsistent: bool = False

    @property
    def tolerance(self) -> float:
        """Absolute tolerance: as declared, else half a unit in the last printed digit."""
        expect = Decimal(self.expect)
        if self.abs_tol is not None:
            return float(self.abs_tol)
        if self.rel_tol is not None:
            return float(self.rel_tol) * abs(float(expect))
        return 0.5 * 10.0 ** expect.as_tuple().exponent


@dataclass(frozen=True)
class Table:
    """A law the paper gives only as a table of points (Chinchilla's Table 3): the first column
    is the law's one variable, the others its outputs, every value a string as printed.
    Evaluated by log-log interpolation between rows; outside the rows, extrapolated (warned)."""

    columns: "tuple[str, ...]"
    rows: "tuple[tuple[str, ...], ...]"
    location: str
    note: str = ""

    def column(self, symbol: str) -> "list[float]":
        i = self.columns.index(symbol)
        return [float(r[i]) for r in self.rows]


@dataclass(frozen=True)
class Budget:
    """How a training-compute budget C (FLOPs) becomes the compute the law is written in, when
    the paper's compute is not the FLOPs a run spends (Kaplan's C_min: C = 2 C_min at the
    critical batch). `formula` is over C and gives FLOPs; the law's unit conversion follows."""

    formula: str
    location: str
    note: str = ""


@dataclass(frozen=True)
class Relation:
    source: str  # law id or bibkey that relates
    kind: str
    target: str  # law id or bibkey it relates to
    note: str = ""


@dataclass(frozen=True)
class Note:
    text: str
    location: str = ""


@dataclass(frozen=True)
class Law:
    id: str
    source: str
    name: str
    title: str
    kind: str
    predicts: Output
    formula: str
    latex: str
    location: str
    verified: bool = True
    tags: "tuple[str, ...]" = ()
    variables: "tuple[Variable, ...]" = ()
    constants: "tuple[Constant, ...]" = ()
    where: "tuple[tuple[str, str], ...]" = ()  # derived names, evaluated in order
    outputs: "tuple[Output, ...]" = ()  # further outputs evaluated with the main one
    conditions: "tuple[tuple[str, str], ...]" = ()
    checks: "tuple[Check, ...]" = ()
    notes: "tuple[Note, ...]" = ()
    claims: "tuple[Note, ...]" = ()  # qualitative statements
    aliases: "tuple[str, ...]" = ()
    origin: str = "published"
    table: "Table | None" = None  # kind "tabulated": the points as printed
    budget: "Budget | None" = None  # C (FLOPs spent) -> the law's own compute variable

    def constant(self, symbol: str) -> Constant:
        return next(c for c in self.constants if c.symbol == symbol)

    def variable(self, symbol: str) -> Variable:
        return next(v for v in self.variables if v.symbol == symbol)

    @property
    def missing_constants(self) -> "list[str]":
        return [c.symbol for c in self.constants if c.missing]

    @property
    def condition(self) -> dict:
        return dict(self.conditions)


class LawSummary(NamedTuple):
    """What `kb list` shows of a law: the store reads it from indexed columns, not documents.
    Immutable like the dataclasses, but a tuple: `kb list` builds 1e5 of them, ~3x faster."""

    id: str
    source: str
    kind: str
    title: str
    symbol: str
    verified: bool
    origin: str
    location: str
    tags: "tuple[str, ...]" = ()

    @classmethod
    def of(cls, law: Law) -> "LawSummary":
        return cls(law.id, law.source, law.kind, law.title, law.predicts.symbol, law.verified, law.origin,
                   law.location, tuple(law.tags))


@dataclass(frozen=True)
class Source:
    bibkey: str
    short: str
    title: str
    authors: "tuple[str, ...]"
    year: int
    arxiv: str = ""
    url: str = ""
    venue: str = ""
    verified: bool = True
    headline_loss: str = ""  # law id
    headline_allocation: "dict[str, str]" = field(default_factory=dict)  # {"N": id, "D": id} or {"loss": id}
    notes: "tuple[Note, ...]" = ()
    inconsistencies: "tuple[Note, ...]" = ()
    relations: "tuple[Relation, ...]" = ()
    origin: str = "published"
    aliases: "tuple[str, ...]" = ()  # lower-case names people use for the paper ("chinchilla")
    headline_why: str = ""  # why the headline allocation is the source's headline
    approaches: "tuple[str, ...]" = ()  # law ids a comparison shows beside the headline allocation
    models: "tuple[Model, ...]" = ()  # the [[model]] tables: models this paper introduced


@dataclass(frozen=True)
class Figure:
    """One printed figure of a model (its parameters, tokens or FLOPs) and where it is printed."""

    quantity: str  # params, params_nonembedding, tokens, flops
    value: str  # as a number string ("70e9"); the paper's own wording is in `printed`
    location: str
    printed: str = ""
    verified: bool = True
    note: str = ""


@dataclass(frozen=True)
class Model:
    """A trained model as data, so that a law can be evaluated at it and a plot can place it."""

    name: str
    display: str
    aliases: "tuple[str, ...]"
    params: float
    params_nonembedding: "float | None"
    tokens: float
    flops: "float | None"
    flops_derived: bool  # True when flops = 6*N*D computed here, not printed
    tokenizer: "str | None"
    source: str  # bibkey of the paper that introduced the model
    location: str  # where N / D / C are printed
    dataset: str = ""
    figures: "tuple[Figure, ...]" = ()
    notes: "tuple[Note, ...]" = ()

    @property
    def verified(self) -> bool:
        return all(f.verified for f in self.figures)

    def figure(self, quantity: str) -> "Figure | None":
        return next((f for f in self.figures if f.quantity == quantity), None)


# ----------------------------------------------------------------------------- validation


_ABSENT = object()


class _Doc:
    """A view of one TOML table that knows where it is, for one-line error messages."""

    __slots__ = ("data", "where", "used")

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise BadFile(f"{where}: expected a table, got {type(data).__name__}")
        self.data, self.where, self.used = data, where, set()

    def get(self, key, default=None, kind=None, required=False):
        self.used.add(key)
        value = self.data.get(key, _ABSENT)
        if value is _ABSENT:
            if required:
                raise BadFile(f"{self.where}: missing required field '{key}'")
            return default
        if kind is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise BadFile(f"{self.where}: field '{key}' must be {names}, not {type(value).__name__}")
        return value

    def text(self, key, default="", required=False) -> str:
        # get() inlined: a law reads ~40 text fields, and a file may hold 1e5 laws
        self.used.add(key)
        value = self.data.get(key, _ABSENT)
        if value is _ABSENT:
            if required:
                raise BadFile(f"{self.where}: missing required field '{key}'")
            return default
        if type(value) is not str:
            raise BadFile(f"{self.where}: field '{key}' must be str, not {type(value).__name__}")
        if _CONTROL.search(value):
            _clean(value, f"{self.where}.{key}")
        return value

    def sub(self, key, required=False) -> "_Doc":
        return _Doc(self.get(key, {}, dict, required), f"{self.where}.{key}")

    def done(self):
        if self.used.issuperset(self.data):
            return
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise BadFile(f"{self.where}: unknown field {str(extra[0])[:40]!r}")


def _printed(value, where: str) -> str:
    """A printed number as a string with its digits; TOML numbers arrive as Decimal or int."""
    if type(value) is str:  # the usual case, first
        text = value.strip()
    elif isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        raise BadFile(f"{where}: expected a number written as a string, like \"0.34\"")
    else:
        text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadFile(f"{where}: '{text}' is not a number") from None
    if not number.is_finite():
        raise BadFile(f"{where}: '{text}' is not a finite number")
    as_float = float(number)  # the calculator computes in doubles: 1e400 would become inf, 1e-400 zero
    if math.isinf(as_float) or (as_float == 0 and number != 0):
        raise BadFile(f"{where}: '{text}' is outside the range of a double-precision number")
    return text


def _ident(name, where: str, reserved=frozenset((*formula_lang.FUNCTIONS, *CHECK_FUNCTIONS))) -> str:
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise BadFile(f"{where}: '{name}' is not a valid name (letters, digits, _; not starting with a digit)")
    if name in reserved:
        raise BadFile(f"{where}: '{name}' is reserved for a function")
    return name


def _notes(items, where: str) -> "tuple[Note, ...]":
    out = []
    for i, item in enumerate(items or ()):
        if isinstance(item, str):
            out.append(Note(_clean(item, where)))
        else:
            d = _Doc(item, f"{where}[{i}]")
            out.append(Note(d.text("text", required=True), d.text("location")))
            d.done()
    return tuple(out)


def load_document(data: dict, where: str, origin: str = "published",
                  only: "set[str] | None" = None) -> "tuple[Source, list[Law]]":
    """Validate one law file (already parsed TOML, floats as Decimal). Raises BadFile.

    `only` (law names) reads back part of a stored document: the source and those laws, with
    the laws they need (headline, approaches, constants_from), each validated in full; the
    others are neither validated nor returned (`kb show` of one law of a source of 1e5)."""
    doc = _Doc(data, where)
    schema = doc.get("schema", required=True)
    if type(schema) is not int or schema != SCHEMA_VERSION:  # not 1.0 (a Decimal) nor true
        raise BadFile(f"{where}: schema {schema} is not supported (this kb reads schema {SCHEMA_VERSION})")
    src = doc.sub("source", required=True)
    bibkey = src.text("bibkey", required=True)
    if not _BIBKEY.fullmatch(bibkey):
        raise BadFile(f"{where}: bibkey '{bibkey}' must be lowercase surname + year, like 'hoffmann2022'")
    year = src.get("year", required=True, kind=int)
    if type(year) is not int or not YEARS[0] <= year <= YEARS[1]:  # bool is an int subclass
        raise BadFile(f"{where}: source.year must be a year between {YEARS[0]} and {YEARS[1]}, not {year!r}")
    headline = src.sub("headline")
    loss_name = headline.text("loss")
    alloc = headline.get("allocation", {}, (str, dict))
    headline_why = headline.text("why")
    approach_names = headline.get("approaches", [], list)
    headline.done()
    relations = []
    for i, r in enumerate(doc.get("relation", [], list)):
        rd = _Doc(r, f"{where}.relation[{i}]")
        kind = rd.text("kind", required=True)
        if kind not in RELATION_KINDS:
            raise BadFile(f"{rd.where}: relation kind '{kind}' is not one of {', '.join(RELATION_KINDS)}")
        frm = rd.text("from", bibkey)
        relations.append(Relation(frm if "." in frm or frm == bibkey else f"{bibkey}.{frm}", kind,
                                  rd.text("to", required=True), rd.text("note")))
        rd.done()
    authors = _strings(src.get("authors", [], list), f"{where}.source.authors")
    source_conditions = src.sub("conditions")
    source_conditions.used.update(source_conditions.data)
    laws = []
    law_tables = doc.get("law", [], list)
    if only is None:
        law_tables = list(enumerate(law_tables))
    else:
        heads = [loss_name, *(alloc.values() if isinstance(alloc, dict) else [alloc]), *approach_names]
        law_tables = _needed_tables(law_tables, only, heads)
    by_name, folded = {}, {}
    for i, table in law_tables:
        name = table.get("name") if isinstance(table, dict) else None
        law = _load_law(table, f"{where}: law '{name or i}'", bibkey, source_conditions.data, by_name, origin)
        if law.name in by_name:
            raise BadFile(f"{where}: duplicate law id '{law.id}'")
        # a law's page (laws/<id>.html), its JSON twin and its alias resolve by name; two
        # names equal up to case would overwrite each other on a case-insensitive disk
        for page_name in (law.name, *law.aliases):
            other = folded.setdefault(page_name.casefold(), law.name)
            if other != law.name:
                raise BadFile(f"{where}: law name or alias '{page_name}' collides with law '{other}' "
                              f"(names must differ in more than letter case)")
        by_name[law.name] = law
        laws.append(law)

    def law_ref(name, what):
        if not isinstance(name, str):
            raise BadFile(f"{where}: headline {what} must be a law name (a string)")
        if name and name not in by_name:
            raise BadFile(f"{where}: headline {what} '{name}' is not a law in this file")
        return f"{bibkey}.{name}" if name else ""

    if isinstance(alloc, str):
        alloc = {"law": alloc} if alloc else {}
    allocation = {k: law_ref(v, f"allocation.{k}") for k, v in alloc.items() if k in ("law", "N", "D")}
    if set(alloc) - {"law", "N", "D"}:
        raise BadFile(f"{where}: headline.allocation takes 'N' and 'D' (or one law name)")
    source = Source(
        bibkey=bibkey, short=src.text("short", bibkey), title=src.text("title", required=True),
        authors=tuple(str(a) for a in authors), year=year, arxiv=src.text("arxiv"), url=src.text("url"),
        venue=src.text("venue"), verified=src.get("verified", True, bool),
        headline_loss=law_ref(loss_name, "loss"), headline_allocation=allocation,
        notes=_notes(src.get("notes", [], list), f"{where}.source.notes"),
        inconsistencies=_notes(src.get("inconsistencies", [], list), f"{where}.source.inconsistencies"),
        relations=tuple(relations), origin=origin,
        aliases=_aliases(src.get("aliases", [], list), f"{where}.source.aliases"),
        headline_why=headline_why,
        approaches=tuple(law_ref(n, "approaches") for n in approach_names),
        models=load_models_tables(doc.get("model", [], list), where, bibkey),
    )
    src.used.add("conditions")
    src.done()
    doc.used.update({"law", "relation"})
    doc.done()
    return source, laws


def _needed_tables(tables: list, only, also) -> "list[tuple[int, dict]]":
    """The [[law]] tables (with their index) named in `only` or `also`, and the ones their
    constants_from names, in file order."""
    named = {}
    for i, table in enumerate(tables):
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str):
            named.setdefault(name, []).append(i)
    wanted, todo = set(), [n for n in (*only, *also) if isinstance(n, str)]
    while todo:
        name = todo.pop()
        for i in named.get(name, ()):
            if i not in wanted:
                wanted.add(i)
                inherit = tables[i].get("constants_from")
                if isinstance(inherit, str):
                    todo.append(inherit)
    return [(i, tables[i]) for i in sorted(wanted)]


_ALIAS = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _aliases(items, where: str) -> "tuple[str, ...]":
    """A source's other names, lower case (lookups fold case); never dotted like a law id."""
    out = []
    for a in items:
        if not isinstance(a, str) or not _ALIAS.match(a) or "." in a:
            raise BadFile(f"{where}: alias {a!r} must be lower-case letters, digits, - or _")
        out.append(a)
    return tuple(out)


def _load_table(d: "_Doc", variables, predicts, outputs, where) -> "Table":
    """A tabulated law's points: the first column its one variable, then its outputs."""
    td = d.sub("table", required=True)
    columns = td.get("columns", required=True, kind=list)
    expected = [v.symbol for v in variables][:1] + [predicts.symbol] + [o.symbol for o in outputs]
    if len(variables) != 1:
        raise BadFile(f"{where}: a tabulated law has exactly one variable (the table's first column)")
    if sorted(map(str, columns)) != sorted(expected) or columns[0] != expected[0]:
        raise BadFile(f"{td.where}: columns must be the variable first, then {', '.join(expected[1:])}")
    rows = []
    for i, row in enumerate(td.get("rows", required=True, kind=list)):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadFile(f"{td.where}.rows[{i}]: expected {len(columns)} values ({', '.join(columns)})")
        printed = tuple(_printed(x, f"{td.where}.rows[{i}]") for x in row)
        if any(float(x) <= 0 for x in printed):
            raise BadFile(f"{td.where}.rows[{i}]: values must be positive (interpolation is in log-log)")
        rows.append(printed)
    if len(rows) < 2:
        raise BadFile(f"{td.where}: a table needs at least two rows")
    xs = [float(r[0]) for r in rows]
    if any(b <= a for a, b in zip(xs, xs[1:])):
        raise BadFile(f"{td.where}: the first column ({columns[0]}) must increase from row to row")
    table = Table(tuple(columns), tuple(rows), td.text("location", required=True), td.text("note"))
    td.done()
    return table


def _load_law(table, where, bibkey, source_conditions, earlier, origin) -> Law:
    d = _Doc(table, where)
    name = _ident(d.get("name", required=True), f"{where}.name", reserved=())
    law_id = f"{bibkey}.{name}"
    kind = d.text("kind", required=True)
    if kind not in KINDS:
        raise BadFile(f"{where}: kind '{kind}' is not one of {', '.join(KINDS)}")
    verified = d.get("verified", True, bool)
    p = d.sub("predicts", required=kind != "qualitative")
    predicts = Output(p.text("symbol", "" if kind == "qualitative" else None, required=kind != "qualitative"),
                      p.text("quantity"), p.text("unit"))
    p.done()

    variables = []
    for sym, vt in d.get("variables", {}, dict).items():
        if (_SHORTCUTS and type(vt) is dict and "meaning" in vt and "unit" in vt
                and len(vt) == 2 + ("fitted" in vt) and _clean_text(vt["meaning"], "") and _clean_text(vt["unit"], "")
                and type(vt.get("fitted", [])) is list):
            # { meaning, unit[, fitted] }, good text: what the general path below builds
            vwhere = f"{where}.variables.{sym}"
            variables.append(Variable(_ident(sym, vwhere), vt["meaning"], vt["unit"], _fitted(vt.get("fitted"), vwhere)))
            continue
        vd = _Doc(vt, f"{where}.variables.{sym}")
        fitted = _fitted(vd.get("fitted", None, list), vd.where)
        variables.append(Variable(_ident(sym, vd.where), vd.text("meaning", required=True),
                                  vd.text("unit", required=True), fitted))
        vd.done()

    constants = []
    inherit = d.text("constants_from")
    if inherit:
        if inherit not in earlier:
            raise BadFile(f"{where}: constants_from '{inherit}' must name a law earlier in this file")
        constants.extend(earlier[inherit].constants)
    for sym, ct in d.get("constants", {}, dict).items():
        if _SHORTCUTS and type(ct) is dict and len(ct) == 2 and "value" in ct and _clean_text(ct.get("location")):
            # { value, location } and nothing else, the location good text: what the general
            # path below would build, with its messages (tests/test_schema_properties.py)
            cwhere = f"{where}.constants.{sym}"
            printed = _printed(ct["value"], f"{cwhere}.value")
            constants.append(Constant(_ident(sym, cwhere), printed, "", ct["location"], "", None, "", verified))
            continue
        cd = _Doc(ct, f"{where}.constants.{sym}")
        missing = cd.get("missing", False, bool)
        printed = None if missing else _printed(cd.get("value", required=True), f"{cd.where}.value")
        interval = cd.get("interval", None, list)
        if interval is not None:
            if len(interval) != 2:
                raise BadFile(f"{cd.where}: interval must be [low, high] as printed")
            interval = tuple(_printed(x, f"{cd.where}.interval") for x in interval)
        alternatives = []
        for j, alt in enumerate(cd.get("alternatives", [], list)):
            ad = _Doc(alt, f"{cd.where}.alternatives[{j}]")
            alternatives.append(Alternative(_printed(ad.get("value", required=True), ad.where),
                                            ad.text("location", required=True), ad.text("note")))
            ad.done()
        location = cd.text("location", required=True)
        if not location.strip():
            raise BadFile(f"{cd.where}: location must say where the paper prints it")
        constants.append(Constant(
            _ident(sym, cd.where), printed, cd.text("unit"), location, cd.text("uncertainty"),
            interval, cd.text("interval_note"), cd.get("verified", verified and not missing, bool),
            cd.text("note"), tuple(alternatives)))
        cd.done()
    seen = set()
    for c in constants + variables:
        if c.symbol in seen:
            raise BadFile(f"{where}: the name '{c.symbol}' is defined twice")
        seen.add(c.symbol)

    where_defs = []
    for sym, expr in d.get("where", {}, dict).items():
        _ident(sym, f"{where}.where")
        if sym in seen:
            raise BadFile(f"{where}: where-name '{sym}' shadows a constant or variable")
        formula_lang.parse(expr, seen, what=f"{where}.where.{sym}")
        where_defs.append((sym, expr))
        seen.add(sym)

    formula_text = d.text("formula", required=kind not in ("qualitative", "tabulated"))
    if formula_text:
        f = formula_lang.parse(formula_text, seen, what=f"{where}.formula")
        unused = {v.symbol for v in variables} - f.names - {n for _, e in where_defs for n in
                                                              formula_lang.parse(e, seen).names}
        if unused:
            raise BadFile(f"{where}: variable '{sorted(unused)[0]}' is not used by the formula")
    outputs = []
    for sym, ot in d.get("outputs", {}, dict).items():
        od = _Doc(ot, f"{where}.outputs.{sym}")
        text = od.text("formula", required=kind != "tabulated")
        if text:
            formula_lang.parse(text, seen, what=f"{od.where}.formula")
        outputs.append(Output(_ident(sym, od.where, reserved=()), od.text("quantity"), od.text("unit"), text))
        od.done()

    law_table = None
    if kind == "tabulated":
        law_table = _load_table(d, variables, predicts, outputs, where)
        if variables[0].fitted is None:  # the validity range of a table is its rows
            xs = law_table.column(variables[0].symbol)
            variables[0] = Variable(variables[0].symbol, variables[0].meaning, variables[0].unit, (xs[0], xs[-1]))
    elif "table" in d.data:
        raise BadFile(f"{where}: only a law of kind 'tabulated' has a table")
    budget = None
    if "budget" in d.data:
        bd = d.sub("budget")
        budget = Budget(bd.text("formula", required=True), bd.text("location", required=True), bd.text("note"))
        bd.done()
        formula_lang.parse(budget.formula, {"C"}, what=f"{bd.where}.formula")
        if sum(units_dimension(v.unit) == "compute" for v in variables) != 1:
            raise BadFile(f"{where}: a budget relation needs exactly one compute variable")
    conditions = dict(source_conditions)
    conditions.update(d.get("conditions", {}, dict))
    for key, value in conditions.items():
        if not isinstance(value, str):  # stored as text: only text reads back the same
            raise BadFile(f"{where}: condition '{key}' must be a string, not {type(value).__name__}")
        _clean(key, f"{where}.conditions")
        _clean(value, f"{where}.conditions.{key}")
    checks = []
    for j, ct in enumerate(d.get("check", [], list)):
        if (_SHORTCUTS and type(ct) is dict and len(ct) == 3 and "expect" in ct and _clean_text(ct.get("location"))
                and _clean_text(ct.get("expr"), "")):
            # { location, expr, expect }, good text: what the general path below builds
            check = Check(law_id, f"{name}#{j + 1}", ct["location"], ct["expr"],
                          _printed(ct["expect"], f"{where}.check[{j}].expect"))
            formula_lang.parse(check.expr, {c.symbol for c in constants} | {s for s, _ in where_defs},
                               extra_calls=CHECK_FUNCTIONS, what=f"{where}.check[{j}].expr")
            checks.append(check)
            continue
        kd = _Doc(ct, f"{where}.check[{j}]")
        tol = kd.sub("tolerance")
        check = Check(
            law=law_id, label=kd.text("label", f"{name}#{j + 1}"), location=kd.text("location", required=True),
            expr=kd.text("expr", required=True), expect=_printed(kd.get("expect", required=True), f"{kd.where}.expect"),
            abs_tol=_printed(tol.get("abs"), f"{tol.where}.abs") if "abs" in tol.data else None,
            rel_tol=_printed(tol.get("rel"), f"{tol.where}.rel") if "rel" in tol.data else None,
            compare=kd.text("compare", "=="), note=kd.text("note"),
            inconsistent=kd.get("inconsistent", False, bool))
        tol.done()
        kd.done()
        if check.compare not in ("==", "<=", ">="):
            raise BadFile(f"{kd.where}: compare must be ==, <= or >=")
        formula_lang.parse(check.expr, {c.symbol for c in constants} | {s for s, _ in where_defs},
                           extra_calls=CHECK_FUNCTIONS, what=f"{kd.where}.expr")
        checks.append(check)

    tags = _strings(d.get("tags", [], list), f"{where}.tags")
    law = Law(
        id=law_id, source=bibkey, name=name, title=d.text("title", name), kind=kind, predicts=predicts,
        formula=formula_text or "", latex=d.text("latex"), location=d.text("location", required=True),
        verified=verified, tags=tuple(str(t) for t in tags), variables=tuple(variables),
        constants=tuple(constants), where=tuple(where_defs), outputs=tuple(outputs),
        conditions=tuple((str(k), str(v)) for k, v in conditions.items()), checks=tuple(checks),
        notes=_notes(d.get("notes", [], list), f"{where}.notes"),
        claims=_notes(d.get("claims", [], list), f"{where}.claims"),
        aliases=tuple(_ident(a, f"{where}.aliases", reserved=()) for a in d.get("aliases", [], list)), origin=origin,
        table=law_table, budget=budget,
    )
    d.done()
    return law


def _strings(items: list, where: str) -> list:
    for item in items:
        if not isinstance(item, str):
            raise BadFile(f"{where}: expected strings, got {type(item).__name__} {str(item)[:20]!r}")
        _clean(item, where)
    return items


def _fitted(fitted, where: str) -> "tuple[float, float] | None":
    """A variable's fitted range [low, high] (a list, already type-checked) as floats."""
    if fitted is None:
        return None
    if len(fitted) != 2:
        raise BadFile(f"{where}: fitted must be [low, high]")
    fitted = tuple(float(_printed(x, f"{where}.fitted")) for x in fitted)
    if not 0 <= fitted[0] <= fitted[1]:
        raise BadFile(f"{where}: fitted range must be increasing and non-negative")
    return fitted


_SHORTCUTS = True  # tests turn them off to compare: the general path alone must give the same


def _clean_text(value, empty=None) -> bool:
    """True for a str that `_Doc.text` accepts as it is: no control character, and (unless
    `empty` is "") not blank, as a location must not be."""
    return type(value) is str and not _CONTROL.search(value) and (empty == "" or bool(value.strip()))


def _clean(text: str, where: str) -> str:
    """Every string a law keeps passes here (it is cheap: one regex search)."""
    bad = _CONTROL.search(text)
    if bad:
        raise BadFile(f"{where}: text {_shorten(text)!r} contains the control character {bad.group()!r}")
    return text


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


MODEL_FIGURES = ("params", "params_nonembedding", "tokens", "flops")
_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")  # fullmatch, like the ids


def load_models_tables(tables, where: str, bibkey: "str | None" = None) -> "tuple[Model, ...]":
    """Validate [[model]] tables: in a law file (source defaults to its bibkey) or in
    laws/models.toml (each model names its source). Figures are strings as printed; FLOPs
    not printed are derived as 6ND and flagged."""
    out = []
    for i, table in enumerate(tables):
        name = table.get("name") if isinstance(table, dict) else None
        md = _Doc(table, f"{where}: model '{name or i}'")
        name = md.text("name", required=True)
        if not _MODEL_NAME.fullmatch(name):
            raise BadFile(f"{md.where}: name must be lower-case letters, digits, '.' and '-'")
        source = md.text("source", bibkey or "", required=bibkey is None)
        if not _BIBKEY.fullmatch(source):
            raise BadFile(f"{md.where}: source '{source}' must be a bibkey like 'hoffmann2022'")
        figures = {}
        for quantity in MODEL_FIGURES:
            if quantity not in md.data:
                md.used.add(quantity)
                continue
            fd = md.sub(quantity)
            value = _printed(fd.get("value", required=True), f"{fd.where}.value")
            if not float(value) > 0:
                raise BadFile(f"{fd.where}.value: must be positive")
            location = fd.text("location", required=True)
            if not location.strip():
                raise BadFile(f"{fd.where}: location must say where the paper prints it")
            figures[quantity] = Figure(quantity, value, location, fd.text("printed"), fd.get("verified", True, bool),
                                       fd.text("note"))
            fd.done()
        for quantity in ("params", "tokens"):
            if quantity not in figures:
                raise BadFile(f"{md.where}: missing required field '{quantity}'")
        params, tokens = float(figures["params"].value), float(figures["tokens"].value)
        flops = figures.get("flops")
        aliases = md.get("aliases", [], list)
        if not all(isinstance(a, str) and _MODEL_NAME.fullmatch(a) for a in aliases):
            raise BadFile(f"{md.where}: aliases must be lower-case names like 'gpt-3'")
        location = md.text("location") or "; ".join(f"{q}: {f.location}" for q, f in figures.items())
        nonemb = figures.get("params_nonembedding")
        out.append(Model(
            name=name, display=md.text("display", name), aliases=tuple(aliases), params=params,
            params_nonembedding=float(nonemb.value) if nonemb else None, tokens=tokens,
            flops=float(flops.value) if flops else 6.0 * params * tokens, flops_derived=flops is None,
            tokenizer=md.text("tokenizer") or None, source=source, location=location, dataset=md.text("dataset"),
            figures=tuple(figures.values()), notes=_notes(md.get("notes", [], list), f"{md.where}.notes")))
        md.done()
    return tuple(out)


def load_models_document(data: dict, where: str) -> "tuple[Model, ...]":
    """laws/models.toml: `schema` and [[model]] tables only, each naming its source."""
    doc = _Doc(data, where)
    schema = doc.get("schema", required=True)
    if schema != SCHEMA_VERSION:
        raise BadFile(f"{where}: schema {schema} is not supported (this kb reads schema {SCHEMA_VERSION})")
    models = load_models_tables(doc.get("model", [], list), where)
    doc.done()
    return models


def parse_toml(text: str, where: str) -> dict:
    """TOML with floats as Decimal, so that printed digits survive."""
    try:
        import tomli as tomllib  # the same parser as the standard library's, compiled
    except ImportError:
        import tomllib

    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise BadFile(f"{where}: not valid TOML: {exc}") from None
    except (RecursionError, KbError) as exc:
        raise BadFile(f"{where}: not valid TOML: {type(exc).__name__}") from None
