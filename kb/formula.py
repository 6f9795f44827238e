"""The safe expression language of law files.

Formulas in law files (and in users' files) are untrusted. A formula is parsed with
`ast`, every node is checked against a short allow-list (numbers, the law's own names,
arithmetic, `**`, a few functions), and only then compiled. The compiled code runs with
no builtins and works on numpy arrays as well as on floats, so evaluating a law on a
million points costs what the hand-written numpy expression costs.
"""

import ast
import math

from .errors import BadFormula

MAX_LENGTH = 2000
# The deepest nesting any checked structure may have: a formula's syntax tree here, and a whole
# law document in schema.py. Every later reader (the recursive checker below, compile(), the
# renderers, json.loads of a stored document) then stays far inside Python's recursion limit,
# whatever stack depth it is called from.
MAX_DEPTH = 64

# name in formulas -> numpy attribute; `min`/`max` are the elementwise two-argument forms
FUNCTIONS = {
    "log": "log", "ln": "log", "log10": "log10", "log2": "log2", "exp": "exp", "sqrt": "sqrt",
    "abs": "abs", "min": "minimum", "max": "maximum", "tanh": "tanh",
}
_ARITY = {"min": 2, "max": 2}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)


class Formula:
    """A checked expression. `names` are the free names it uses (functions excluded)."""

    def __init__(self, text: str, code, names: "frozenset[str]", calls: "frozenset[str]"):
        self.text, self._code, self.names, self.calls = text, code, names, calls

    def __call__(self, env: dict):
        import numpy as np

        scope = {"__builtins__": {}}
        scope.update({k: getattr(np, v) for k, v in FUNCTIONS.items() if k in self.calls})
        # Numbers as numpy doubles: (A - N)**0.5 with N > A is then NaN, not a Python complex,
        # and overflow is inf (silently here: the caller decides what a non-finite result means).
        scope.update({k: np.float64(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                      for k, v in env.items()})
        with np.errstate(all="ignore"):
            try:
                result = eval(self._code, scope)  # the AST was checked node by node in `parse`
            except OverflowError:
                return math.inf
            except ZeroDivisionError:
                return math.nan
            if np.iscomplexobj(result):
                result = np.where(np.imag(result) == 0, np.real(result), np.nan)
                return result if np.ndim(result) else float(result)
            return result

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def parse(text: str, allowed_names, extra_calls=(), what: str = "formula") -> Formula:
    """Check `text` and compile it. `allowed_names`: the names it may use; `extra_calls`:
    further callables (with keyword arguments) that check expressions may use."""
    if not isinstance(text, str):
        raise BadFormula(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise BadFormula(f"{what} is longer than {MAX_LENGTH} characters")
    allowed_names = frozenset(allowed_names)
    extra_calls = frozenset(extra_calls)
    key = (text, allowed_names, extra_calls)
    if key in _CHECKED:
        return _CHECKED[key]
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise BadFormula(f"{what} '{_short(text)}' is not a valid expression: {msg}") from None
    names, calls = set(), set()
    try:
        tree = _Checker(allowed_names, extra_calls, names, calls, what, text).visit(tree)
    except RecursionError:
        raise BadFormula(f"{what} '{_short(text)}' is nested too deeply") from None
    ast.fix_missing_locations(tree)
    checked = Formula(text, compile(tree, "<formula>", "eval"), frozenset(names), frozenset(calls))
    if len(_CHECKED) < 4096:
        _CHECKED[key] = checked
    return checked


# Checked formulas by (text, allowed names, extra calls): a file of many fitted laws repeats a
# few forms, and checking + compiling is most of what validating a law costs. A Formula is
# immutable, so sharing one is safe; failures are not cached (their message names the place).
_CHECKED: "dict[tuple, Formula]" = {}


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker(ast.NodeTransformer):
    """Rejects every node outside the allow-list; turns numeric literals into floats so
    that `10**10**10` overflows to inf instead of computing a huge integer."""

    def __init__(self, allowed, extra_calls, names, calls, what, text):
        self.allowed, self.extra_calls, self.names, self.calls = allowed, extra_calls, names, calls
        self.what, self.text = what, text
        self.depth = 0

    def visit(self, node):
        # the one nesting limit: refused here, long before Python's recursion limit
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().visit(node)
        finally:
            self.depth -= 1

    def fail(self, why: str):
        raise BadFormula(f"{self.what} '{_short(self.text)}': {why}")

    def generic_visit(self, node):
        self.fail(f"{_describe(node)} is not allowed (only numbers, names, + - * / ** and "
                  f"{', '.join(sorted(FUNCTIONS))})")

    def visit_Expression(self, node):
        node.body = self.visit(node.body)
        return node

    def visit_Constant(self, node):
        if type(node.value) not in (int, float):
            self.fail(f"the literal {node.value!r} is not a number")
        try:
            return ast.copy_location(ast.Constant(float(node.value)), node)
        except OverflowError:
            self.fail(f"the number {str(node.value)[:20]}... is too large")

    def visit_Name(self, node):
        if not isinstance(node.ctx, ast.Load):
            self.fail("assignment is not allowed")
        if node.id not in self.allowed:
            known = ", ".join(sorted(self.allowed)) or "none"
            self.fail(f"unknown name '{node.id}' (names defined here: {known})")
        self.names.add(node.id)
        return node

    def visit_BinOp(self, node):
        if not isinstance(node.op, _BINOPS):
            self.fail(f"the operator {type(node.op).__name__} is not allowed")
        node.left, node.right = self.visit(node.left), self.visit(node.right)
        return node

    def visit_UnaryOp(self, node):
        if not isinstance(node.op, _UNARY):
            self.fail(f"the operator {type(node.op).__name__} is not allowed")
        node.operand = self.visit(node.operand)
        return node

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            self.fail(f"{_describe(node.func)} cannot be called")
        name = node.func.id
        if name in self.extra_calls:
            if any(k.arg is None for k in node.keywords):
                self.fail("** arguments are not allowed")
            node.args = [self.visit(a) for a in node.args]
            for k in node.keywords:
                k.value = self.visit(k.value)
            self.calls.add(name)
            return node
        if name not in FUNCTIONS:
            self.fail(f"calling '{name}' is not allowed; functions: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            self.fail(f"'{name}' takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail("* arguments are not allowed")
        want = _ARITY.get(name, 1)
        if len(node.args) != want:
            self.fail(f"'{name}' takes {want} argument{'s' if want > 1 else ''}, not {len(node.args)}")
        node.args = [self.visit(a) for a in node.args]
        self.calls.add(name)
        return node


def _describe(node) -> str:
    kinds = {
        ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
        ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension", ast.Compare: "a comparison", ast.BoolOp: "and/or",
        ast.IfExp: "if/else", ast.JoinedStr: "an f-string", ast.NamedExpr: "assignment (:=)",
        ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set",
        ast.Await: "await", ast.Starred: "* unpacking",
    }
    return kinds.get(type(node), f"'{type(node).__name__}'")
