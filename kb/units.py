"""Numbers with SI-style suffixes and the few units scaling laws are written in.

The user always speaks one unit system: parameters, tokens, FLOPs (and nats for loss).
A law declares the native unit of each variable; `to_native` / `from_native` convert.
Each unit belongs to a dimension and has a factor to that dimension's user unit.
"""

import math
import re

from .errors import BadNumber, BadUnit

PF_DAY = 8.64e19  # FLOP in one petaflop/s-day: 1e15 * 24 * 3600

# unit -> (dimension, factor to the user's unit of that dimension)
UNITS: "dict[str, tuple[str, float]]" = {
    "params": ("params", 1.0),
    "tokens": ("tokens", 1.0),
    "FLOP": ("compute", 1.0),
    "FLOPs": ("compute", 1.0),
    "PF-days": ("compute", PF_DAY),
    "PF-day": ("compute", PF_DAY),
    "steps": ("steps", 1.0),
    "nats/token": ("loss", 1.0),
}
USER_UNIT = {"params": "params", "tokens": "tokens", "compute": "FLOP", "steps": "steps", "loss": "nats/token"}

# number suffixes, matched case-insensitively (70B = 70b = 70bn; 125m is 125 million: no
# quantity a scaling law takes is counted in thousandths)
SUFFIX = {None: 1.0, "k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "g": 1e9, "t": 1e12, "tn": 1e12, "p": 1e15}
SUFFIX_HELP = "number suffixes: K, M (mn), B (bn, G), T (tn), P, in either case"

_NUMBER = re.compile(
    r"^\s*(?P<num>[+-]?(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
    r"(?P<suffix>(?:[bBmMtT][nN]|[KkMmBbGgTtPp])(?![A-Za-z]))?\s*(?P<unit>[A-Za-z][A-Za-z/\-]*)?\s*$"
)


def dimension(unit: "str | None") -> "str | None":
    """The dimension of a unit, or None for units we cannot convert (they pass through)."""
    return UNITS[unit][0] if unit in UNITS else None


def parse_number(text: str, what: str = "number") -> "tuple[float, str | None]":
    """'70B' -> (7e10, None); '6666 PF-days' -> (6666.0, 'PF-days'); rejects nan, inf, junk."""
    if isinstance(text, (int, float)):
        value, unit = float(text), None
    else:
        m = _NUMBER.match(str(text))
        if not m:
            raise BadNumber(f"cannot read {what} '{text}': expected a number like 70e9, 70B, 1.4T or '6666 PF-days' "
                            f"({SUFFIX_HELP})")
        unit = m.group("unit")
        suffix = m.group("suffix")
        if unit is not None and unit not in UNITS:
            # '70Bparams' is not an error worth a lecture, but an unknown unit is
            raise BadUnit(f"unknown unit '{unit}' in {what} '{text}'; known units: {', '.join(sorted(UNITS))}; "
                          f"{SUFFIX_HELP}")
        try:
            value = float(m.group("num").replace("_", "")) * SUFFIX[suffix.lower() if suffix else None]
        except OverflowError:
            value = math.inf
    if not math.isfinite(value):
        raise BadNumber(f"{what} '{text}' is not a finite number")
    return value, unit


def to_native(value, given_unit: "str | None", native_unit: "str | None", what: str):
    """Convert a user value (in `given_unit`, or the user's unit of the dimension) to `native_unit`."""
    native_dim = dimension(native_unit)
    if given_unit is None:
        return value / UNITS[native_unit][1] if native_dim else value
    given_dim = dimension(given_unit)
    if native_dim is None:
        if given_unit == native_unit:
            return value
        raise BadUnit(f"{what} is in {native_unit}; cannot convert from {given_unit}")
    if given_dim != native_dim:
        raise BadUnit(f"{what} is a {native_dim} quantity ({native_unit}); '{given_unit}' is {given_dim}")
    return value * UNITS[given_unit][1] / UNITS[native_unit][1]


def from_native(value, native_unit: "str | None"):
    """A native value in the user's unit: (value, unit)."""
    if dimension(native_unit):
        dim, factor = UNITS[native_unit]
        return value * factor, USER_UNIT[dim]
    return value, native_unit


def format_si(value: float, digits: int = 4) -> str:
    """7e10 -> '70B', 1.4e12 -> '1.4T' for tables; plain exponent outside K..Q."""
    if value is None or not math.isfinite(value):
        return "—"
    a = abs(value)
    for suffix, factor in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if factor <= a < factor * 1000:
            return f"{value / factor:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"
