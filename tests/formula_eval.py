"""A tiny, strict evaluator for exactly the formulas convsheets writes, from the .xlsx alone.

Grammar (anything else raises `FormulaError`, so a new construct cannot evaluate wrongly):

    formula := "=" expr
    expr    := arith [CMP arith]                           one comparison, no chains
    arith   := term (("+" | "-") term)*                    left to right
    term    := atom (("*" | "/") atom)*                    left to right, binds tighter
    atom    := ["-"] NUMBER | CELL | "(" expr ")" | call   ("-" only as a literal's sign)
    call    := ("INT(" | "ABS(" | "NOT(") expr ")" | "MOD(" expr "," expr ")"
             | ("AND(" | "OR(") expr ("," expr)* ")"                 (1 to 255 exprs)
             | "IF(" expr "," branch ["," branch] ")"                 branch := STRING | expr
             | "ISNUMBER(" CELL ")"
             | "INDEX(" RANGE "," expr "," expr ")"     (a rectangle of 2 cells or more)
             | "SUMPRODUCT(" TERM "," TERM ")"          (rectangles of one shape)
    TERM    := RANGE | RANGE "-" RANGE                 (a difference, element by element)
             | ("SUM(" | "MAX(" | "AVERAGE(") ARG ("," ARG)* ")"    (1 to 255 ARGs)
    ARG     := NUMBER | RANGE
    CMP     := "=" | "<>" | "<" | "<=" | ">" | ">="
    STRING  := '"' ([^"] | '""')* '"'                      ('""' is an escaped quote)
    CELL    := [SHEET "!"] ADDRESS                         e.g. B4, $B$4, Input!B4, 'A b'!B4
    RANGE   := [SHEET "!"] ADDRESS ":" ADDRESS  (top-left to bottom-right) or a single CELL
    SHEET   := [A-Za-z_][A-Za-z0-9_]* | "'" ([^'] | "''")+ "'"     ('' is an escaped quote)
    ADDRESS := ["$"] [A-Z]{1,3} ["$"] [0-9]+
    NUMBER  := unsigned decimal, optional exponent         e.g. 0, 9, 2.5, .5, 1.5e1, 1E-9

A range (more than one cell) is only allowed as a function argument, never as an operand; a
text literal only as a result of IF. Refused on purpose: two-argument INDEX (a whole row in
Excel), INDEX on one cell (Gnumeric gives #REF!), unary minus before anything but a number, and
every other function (VLOOKUP, OFFSET, INDIRECT, ROUND, ROW, ...).

Values are Excel's: numbers (IEEE doubles), text (from IF), TRUE/FALSE (comparisons, AND, OR,
NOT, ISNUMBER, and IF with two arguments when the condition is false) and error values:
#DIV/0! (x/0, MOD(x,0), AVERAGE of no number), #REF! (INDEX beyond its rectangle), #VALUE!
(arithmetic on the text "", a negative INDEX position), #NUM! (overflow). An error propagates
through everything that reads it, except ISNUMBER (FALSE) and an IF branch not taken: IF
evaluates only its chosen branch, and cells read only there are not evaluated. AND and OR
evaluate every argument (no short-circuit, as Excel). TRUE/FALSE is 1/0 in arithmetic and as a
number argument (`=(A1>=0)*(A1<5)`); a condition is TRUE when nonzero. `INT` rounds toward minus
infinity, `MOD` takes the sign of the divisor, INDEX truncates its positions.

API: `Evaluator.value` returns a float, a str (e.g. "" or a message) or a bool, and raises
`FormulaError` for a cell holding an error value (naming the cell where it arose; so does
`evaluate_all`, which reads every formula cell);
`Evaluator.number` and `Evaluator.rect` want numbers and raise a `FormulaError` for text or
TRUE/FALSE (where a spreadsheet would give #VALUE!); `Evaluator.rect_values` gives any values.

Stricter than a spreadsheet on purpose (a `FormulaError`, where a spreadsheet would read 0, skip
or convert silently, or where spreadsheets disagree): a reference to an empty, text or boolean
constant cell (ISNUMBER alone may read it: FALSE); such a cell inside a range given to SUM, MAX,
AVERAGE or SUMPRODUCT, or picked by INDEX; text or TRUE/FALSE produced by formulas inside a
SUMPRODUCT range, TRUE/FALSE inside a SUM/MAX/AVERAGE range (LibreOffice counts it) -- text
there is skipped, as Excel does; MAX of no number; arithmetic on text other than ""; text as a
condition; text or TRUE/FALSE compared; two numbers compared that differ by less than 1e-13
relatively (spreadsheets treat them as equal, IEEE not); an INDEX position 0 (a whole row or
column) or a hair below an integer (LibreOffice rounds it up); MOD of a quotient >= 2**27 or
whose result is inexact in floating point; circular references. No spaces (a space is Excel's
intersection operator).

Independent of convsheets: it reads only the workbook loaded by openpyxl. Cells are evaluated in
dependency order with an explicit stack (no Python recursion over cell chains) and memoised;
the cells a formula reads unconditionally are found when it is parsed, those read only in an IF
branch or picked by INDEX when evaluating it (the formula is then evaluated again).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook

MAX_ROW, MAX_COL = 1_048_576, 16_384

Key = tuple[str, int, int]  # (sheet, row, column), 1-based


class FormulaError(ValueError):
    """A formula outside the grammar, or one that cannot be evaluated."""


@dataclass(frozen=True)
class Rect:
    """A rectangle of cells on one sheet (a single cell is a 1x1 rectangle)."""

    sheet: str
    r0: int
    c0: int
    r1: int
    c1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.r1 - self.r0 + 1, self.c1 - self.c0 + 1

    def keys(self) -> list[Key]:
        return [(self.sheet, r, c) for r in range(self.r0, self.r1 + 1)
                for c in range(self.c0, self.c1 + 1)]


@dataclass(frozen=True)
class XLError:
    """A spreadsheet error value (#DIV/0!, #REF!, #VALUE!, #NUM!); `origin` is the cell where
    it arose (set when a cell first holds it)."""

    code: str
    why: str
    origin: str = ""

    def describe(self, where: str) -> str:
        if self.origin in ("", where):
            return f"{where}: {self.why} ({self.code})"
        return f"{where}: {self.code} from {self.origin}: {self.why}"


@dataclass(frozen=True)
class _Unreadable:
    """An empty, text or boolean constant cell: only ISNUMBER may read it."""

    message: str


Result = float | str | bool | XLError  # what a formula gives
Value = Result | _Unreadable  # what a cell holds

_OVERFLOW = XLError("#NUM!", "overflow")
_NEAR = 1e-13  # numbers this close (relatively) but unequal are not compared
_MOD_QUOTIENT = 2.0 ** 27  # MOD of a larger quotient is refused


# ---------------------------------------------------------------------------- tokenizer
_SHEET = r"(?:'(?P<quoted>(?:[^']|'')+)'|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))!"
_ADDR = r"\$?[A-Z]{1,3}\$?[0-9]+"
_TOKEN = re.compile(
    rf"(?P<func>[A-Z][A-Z0-9.]*)\("
    rf"|(?P<ref>(?:{_SHEET})?(?P<a>{_ADDR})(?::(?P<b>{_ADDR}))?)"
    r"|(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r'|(?P<str>"(?:[^"]|"")*")'
    r"|(?P<op><=|>=|<>|[-+*/(),=<>])"
)
_ADDR_PARTS = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)")
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")


def _address(text: str) -> tuple[int, int]:
    m = _ADDR_PARTS.fullmatch(text)
    assert m is not None
    row, col = int(m.group(2)), column_index_from_string(m.group(1))
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise FormulaError(f"address {text} is outside the sheet")
    return row, col


def _rect(m: re.Match[str], here: str) -> Rect:
    if m.group("quoted") is not None:
        sheet = m.group("quoted").replace("''", "'")
    else:
        sheet = m.group("bare") or here
    r0, c0 = _address(m.group("a"))
    r1, c1 = _address(m.group("b")) if m.group("b") else (r0, c0)
    if r1 < r0 or c1 < c0:
        raise FormulaError(f"range {m.group('ref')} is not written top-left to bottom-right")
    return Rect(sheet, r0, c0, r1, c1)


def tokenize(formula: str, here: str) -> list[tuple[str, object]]:
    """[(kind, value)]: ("func", name), ("ref", Rect), ("num", float), ("str", text),
    ("op", operator or punctuation)."""
    if not formula.startswith("="):
        raise FormulaError(f"not a formula: {formula!r}")
    tokens: list[tuple[str, object]] = []
    pos, text = 1, formula
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaError(f"{formula!r}: unexpected {text[pos:pos + 10]!r} at {pos}")
        kind = m.lastgroup if m.lastgroup in ("func", "num", "str", "op") else "ref"
        if kind == "func":
            tokens.append(("func", m.group("func")))
        elif kind == "num":
            tokens.append(("num", float(m.group("num"))))
        elif kind == "str":
            tokens.append(("str", m.group("str")[1:-1].replace('""', '"')))
        elif kind == "op":
            tokens.append(("op", m.group("op")))
        else:
            tokens.append(("ref", _rect(m, here)))
        pos = m.end()
    return tokens


# ---------------------------------------------------------------------------- parser
# AST nodes: ("num", float) | ("str", str) | ("cell", Key) | ("isnumber", Key)
#            | ("sum", first, [(op, node), ...]) | ("prod", first, [(op, node), ...])
#            | ("cmp", op, node, node) | ("if", cond, then, else | None)
#            | ("fn", "INT" | "ABS" | "NOT" | "MOD" | "AND" | "OR", (node, ...))
#            | ("index", Rect, row node, column node) | ("sumproduct", Rect, Rect)
#            | ("agg", "SUM" | "MAX" | "AVERAGE", (float | Rect, ...))
Node = tuple

AGGREGATES = ("SUM", "MAX", "AVERAGE")
ARITIES = {"INT": (1, 1), "ABS": (1, 1), "NOT": (1, 1), "MOD": (2, 2), "AND": (1, 255),
           "OR": (1, 255), "CHOOSE": (2, 255)}  # functions of expressions: (fewest, most) arguments
MAX_ARGUMENTS = 255  # Excel's limit on a function's arguments


class _Parser:
    def __init__(self, formula: str, here: str) -> None:
        self.formula = formula
        self.tokens = tokenize(formula, here)
        self.pos = 0

    def fail(self, what: str) -> FormulaError:
        got = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "end of formula"
        return FormulaError(f"{self.formula!r}: {what}, got {got!r} (token {self.pos})")

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take_op(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in ops:
            self.pos += 1
            return str(tok[1])
        return None

    def expect(self, op: str) -> None:
        if self.take_op(op) is None:
            raise self.fail(f"expected {op!r}")

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise self.fail("expected the end of the formula")
        return node

    def expr(self) -> Node:
        left = self.arith()
        op = self.take_op(*COMPARISONS)
        if op is None:
            return left
        node = ("cmp", op, left, self.arith())
        if self.take_op(*COMPARISONS) is not None:
            self.pos -= 1
            raise self.fail("a comparison is not compared again (no chains)")
        return node

    def arith(self) -> Node:
        first, rest = self.term(), []
        while (op := self.take_op("+", "-")) is not None:
            rest.append((op, self.term()))
        return ("sum", first, rest) if rest else first

    def term(self) -> Node:
        first, rest = self.atom(), []
        while (op := self.take_op("*", "/")) is not None:
            rest.append((op, self.atom()))
        return ("prod", first, rest) if rest else first

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("expected a number, a cell, '(' or a function")
        kind, value = tok
        if kind == "op" and value == "-":  # the sign of a literal: =A1+-1
            self.pos += 1
            tok = self.peek()
            if tok is None or tok[0] != "num":
                raise self.fail("a unary minus is only allowed before a number")
            self.pos += 1
            return ("num", -float(tok[1]))  # type: ignore[arg-type]
        if kind == "num":
            self.pos += 1
            return ("num", value)
        if kind == "str":
            raise self.fail("a text is only allowed as a result of IF")
        if kind == "ref":
            assert isinstance(value, Rect)
            if value.shape != (1, 1):
                raise self.fail("a range is only allowed as an argument of SUMPRODUCT, SUM, "
                                "MAX or AVERAGE, or as INDEX's first")
            self.pos += 1
            return ("cell", value.keys()[0])
        if kind == "func":
            self.pos += 1
            return self.call(str(value))
        if self.take_op("("):
            node = self.expr()
            self.expect(")")
            return node
        raise self.fail("expected a number, a cell, '(' or a function")

    def call(self, name: str) -> Node:
        """The rest of a call after `NAME(`."""
        if name in ARITIES:
            fewest, most = ARITIES[name]
            args = [self.expr()]
            while self.take_op(","):
                args.append(self.expr())
            self.expect(")")
            if not fewest <= len(args) <= most:
                raise FormulaError(f"{self.formula!r}: {name} of {len(args)} arguments, takes "
                                   f"{fewest}" + (f" to {most}" if most > fewest else ""))
            return ("fn", name, tuple(args))
        if name == "IF":
            cond = self.expr()
            self.expect(",")
            then, other = self.branch(), None
            if self.take_op(","):
                other = self.branch()
            self.expect(")")
            return ("if", cond, then, other)
        if name == "ISNUMBER":
            tok = self.peek()
            cell = tok[1] if tok is not None and tok[0] == "ref" else None
            if not isinstance(cell, Rect) or cell.shape != (1, 1):
                raise self.fail("ISNUMBER takes one cell")
            self.pos += 1
            self.expect(")")
            return ("isnumber", cell.keys()[0])
        if name == "INDEX":
            rect = self.rect("INDEX")
            if rect.shape == (1, 1):
                raise FormulaError(f"{self.formula!r}: INDEX on one cell (Gnumeric gives #REF!)")
            self.expect(",")
            row = self.expr()
            if self.take_op(",") is None:
                raise self.fail("INDEX takes a range, a row and a column")
            col = self.expr()
            self.expect(")")
            return ("index", rect, row, col)
        if name == "MMULT":  # only a row times a column: one number (no array result)
            a = self.rect("MMULT")
            self.expect(",")
            b = self.rect("MMULT")
            self.expect(")")
            if a.shape[0] != 1 or b.shape[1] != 1 or a.shape[1] != b.shape[0]:
                raise FormulaError(f"{self.formula!r}: MMULT of a {a.shape} and a {b.shape} "
                                   "range (only a row times a column gives one number)")
            return ("sumproduct", a, b)
        if name == "SUMPRODUCT":
            a = self.sumproduct_term()
            self.expect(",")
            b = self.sumproduct_term()
            self.expect(")")
            shapes = {r.shape for r in (*a, *b)}
            if len(shapes) != 1:
                raise FormulaError(f"{self.formula!r}: SUMPRODUCT of a {a[0].shape} and a "
                                   f"{b[0].shape if a[0].shape != b[0].shape else a[-1].shape}"
                                   " range")
            if len(a) == len(b) == 1:
                return ("sumproduct", a[0], b[0])
            return ("sumproduct_terms", a, b)
        if name in AGGREGATES:
            return ("agg", name, self.arguments(name))
        raise FormulaError(f"{self.formula!r}: function {name} is outside the grammar")

    def branch(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "str":
            self.pos += 1
            return ("str", tok[1])
        return self.expr()

    def sumproduct_term(self) -> tuple[Rect, ...]:
        """A SUMPRODUCT argument: a range, or the difference of two (a - b)."""
        first = self.rect("SUMPRODUCT")
        if self.take_op("-"):
            return (first, self.rect("SUMPRODUCT"))
        return (first,)

    def rect(self, func: str) -> Rect:
        tok = self.peek()
        if tok is None or tok[0] != "ref":
            raise self.fail(f"{func} takes ranges" if func == "SUMPRODUCT"
                            else f"{func} takes a range first")
        self.pos += 1
        assert isinstance(tok[1], Rect)
        return tok[1]

    def arguments(self, func: str) -> tuple[float | Rect, ...]:
        """ARG ("," ARG)* ")" after `func(`: numbers and ranges (a cell is a 1x1 range)."""
        args: list[float | Rect] = []
        while True:
            tok = self.peek()
            if tok is None or tok[0] not in ("num", "ref"):
                raise self.fail(f"{func} takes numbers and ranges")
            assert isinstance(tok[1], float | Rect)
            args.append(tok[1])
            self.pos += 1
            if self.take_op(")") is not None:
                break
            if self.take_op(",") is None:
                raise self.fail("expected ',' or ')'")
        if len(args) > MAX_ARGUMENTS:
            raise FormulaError(f"{self.formula!r}: {func} of {len(args)} arguments, more than "
                               f"{MAX_ARGUMENTS}")
        return tuple(args)


def parse(formula: str, here: str) -> Node:
    """The AST of `formula`, written on sheet `here` (for sheet-less references)."""
    return _Parser(formula, here).parse()


@lru_cache(maxsize=1 << 16)
def compile_formula(formula: str, here: str) -> tuple[Node, tuple[Key, ...], frozenset[str]]:
    """(AST, cells it always reads, sheets it refers to), cached: a probe copy re-evaluates the
    same formula texts."""
    node = parse(formula, here)
    deps, sheets = _walk(node)
    return node, tuple(deps), frozenset(sheets)


def _walk(node: Node) -> tuple[list[Key], set[str]]:
    """(cells read whatever the values -- not in an IF branch nor picked by INDEX --, every
    sheet referred to in any branch)."""
    out: list[Key] = []
    sheets: set[str] = set()
    stack = [(node, True)]  # (node, read unconditionally)
    while stack:
        n, always = stack.pop()
        kind = n[0]
        rects: list[Rect] = []
        if kind in ("cell", "isnumber"):
            rects = [Rect(n[1][0], n[1][1], n[1][2], n[1][1], n[1][2])]
        elif kind == "sumproduct":
            rects = [n[1], n[2]]
        elif kind == "agg":
            rects = [arg for arg in n[2] if isinstance(arg, Rect)]
        elif kind == "fn":
            stack += [(arg, always) for arg in n[2]]
        elif kind in ("sum", "prod"):
            stack += [(n[1], always)] + [(child, always) for _op, child in n[2]]
        elif kind == "cmp":
            stack += [(n[2], always), (n[3], always)]
        elif kind == "if":
            stack += [(n[1], always)] + [(b, False) for b in n[2:] if b is not None]
        elif kind == "index":
            stack += [(n[2], always), (n[3], always)]
            sheets.add(n[1].sheet)
        for rect in rects:
            sheets.add(rect.sheet)
            if always:
                out += rect.keys()
    return out, sheets


def dependencies(node: Node) -> list[Key]:
    """Every cell the formula reads whatever the values (IF branches and INDEX excluded)."""
    return _walk(node)[0]


# ---------------------------------------------------------------------------- values
class _Need(Exception):  # noqa: N818 (control flow, not an error)
    """Evaluation needs cells not computed yet (read in an IF branch or picked by INDEX)."""

    def __init__(self, keys: list[Key]) -> None:
        super().__init__(keys)
        self.keys = keys


def _finite(x: float) -> float | XLError:
    return x if math.isfinite(x) else _OVERFLOW


def _text(v: object) -> str:
    return {True: "TRUE", False: "FALSE"}[v] if isinstance(v, bool) else repr(v)


def _number(v: Result, what: str) -> float | XLError:
    """A value used as a number: TRUE/FALSE is 1/0, "" is #VALUE!, other text is refused."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float | XLError):
        return v
    if v == "":
        return XLError("#VALUE!", f'{what} of the text ""')
    raise FormulaError(f"{what} of the text {v!r} (a spreadsheet gives #VALUE! or reads a "
                       "number or a date)")


def _truth(v: float | str | bool, what: str) -> bool:
    if isinstance(v, str):
        raise FormulaError(f"{what} of the text {v!r}, not a number or TRUE/FALSE")
    return bool(v)


def _compare(op: str, a: float, b: float) -> bool:
    if a != b and abs(a - b) <= _NEAR * max(abs(a), abs(b)):
        raise FormulaError(f"{a!r} {op} {b!r}: numbers this close are equal to a spreadsheet, "
                           "not in IEEE arithmetic")
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b,
            ">=": a >= b}[op]


def _mod(a: float, b: float) -> float | XLError:
    """Excel's MOD: a - b*INT(a/b), the sign of b."""
    if b == 0:
        return XLError("#DIV/0!", "MOD by zero")
    if abs(a / b) >= _MOD_QUOTIENT:
        raise FormulaError(f"MOD({a!r},{b!r}): a quotient of 2**27 or more, where spreadsheets "
                           "differ")
    r = math.fmod(a, b)  # exact
    if r != 0 and (r < 0) != (b < 0):
        r += b
    if r != a - b * math.floor(a / b):
        raise FormulaError(f"MOD({a!r},{b!r}) is inexact in floating point, where spreadsheets "
                           "differ")
    return r + 0.0  # no -0.0


def _position(x: float, size: int, what: str) -> int | XLError:
    """An INDEX position (1-based, truncated as Excel), or #VALUE!/#REF!."""
    if x < 0:
        return XLError("#VALUE!", f"INDEX {what} {x!r} is negative")
    t = math.trunc(x)
    if x != t and math.ceil(x) - x <= 1e-12 * max(1.0, x):
        raise FormulaError(f"INDEX {what} {x!r} is a hair below an integer, which LibreOffice "
                           "rounds up")
    if t == 0:
        raise FormulaError(f"INDEX {what} 0 (a whole {what}) is outside the grammar")
    if t > size:
        return XLError("#REF!", f"INDEX {what} {t} is beyond the {size} of its range")
    return t


# ---------------------------------------------------------------------------- evaluator
class Evaluator:
    """Values of the cells of an openpyxl workbook (loaded with formulas, not cached values).

    `value` gives a float, a str or a bool; `number` and `rect` only numbers (see the module's
    docstring). Each sheet is read once, when first needed: edit the workbook before
    evaluating, or use a new Evaluator after editing it."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.values: dict[Key, Value] = {}  # every cell visited, formula or constant
        self._parsed: dict[Key, tuple[Node, tuple[Key, ...]]] = {}
        self._cells: dict[str, dict[tuple[int, int], object]] = {}
        self._sheets: frozenset[str] = frozenset()  # sheets known to exist

    def raw(self, key: Key) -> object:
        """What the file holds in a cell (None when empty); sheets are read once, on demand."""
        sheet, row, col = key
        if sheet not in self._cells:
            if sheet not in self.wb.sheetnames:
                raise FormulaError(f"reference to sheet {sheet!r}, which the workbook does not "
                                   "have")
            self._cells[sheet] = {(c.row, c.column): c.value
                                  for line in self.wb[sheet].iter_rows() for c in line
                                  if c.value is not None}
        return self._cells[sheet].get((row, col))

    def is_formula(self, key: Key) -> bool:
        value = self.raw(key)
        return isinstance(value, str) and value.startswith("=")

    def _formula(self, key: Key) -> tuple[Node, tuple[Key, ...]] | None:
        """(AST, dependencies) of a formula cell; None for a constant, now memoised."""
        if key in self._parsed:
            return self._parsed[key]
        value = self.raw(key)
        if isinstance(value, str) and value.startswith("="):
            try:
                node, deps, sheets = compile_formula(value, key[0])
                if not sheets <= self._sheets:  # every branch's sheets must exist
                    for sheet in sorted(sheets - set(self.wb.sheetnames)):
                        raise FormulaError(f"reference to sheet {sheet!r}, which the workbook "
                                           "does not have")
                    self._sheets |= sheets
            except FormulaError as exc:
                raise FormulaError(f"{_where(key)}: {exc}") from None
            self._parsed[key] = node, deps
            return node, deps
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "an empty cell" if value is None else f"{type(value).__name__} {value!r}"
            self.values[key] = _Unreadable(f"{_where(key)} is {what}, not a number or a "
                                           "formula")
        else:
            self.values[key] = float(value)
        return None

    def _compute(self, top: Key) -> None:
        """Evaluate `top` and what it reads, depth first with an explicit stack."""
        stack, active = [top], set()  # active: started, not finished (the stack's path)

        def need(key: Key, keys: list[Key] | tuple[Key, ...]) -> None:
            active.add(key)
            for d in keys:
                if d in active:
                    raise FormulaError(f"circular reference through {_where(d)}")
            stack.extend(keys)

        while stack:
            key = stack[-1]
            if key in self.values:
                stack.pop()
                continue
            parsed = self._formula(key)
            if parsed is None:  # a constant, now memoised
                stack.pop()
                continue
            node, deps = parsed
            if key not in active:
                missing = [d for d in deps if d not in self.values]
                if missing:  # (the formula's own cell among them: circular)
                    need(key, missing)
                    continue
            try:
                result = self._eval(node)
            except _Need as exc:
                need(key, exc.keys)
                continue
            except FormulaError as exc:
                raise FormulaError(f"{_where(key)}: {exc}") from None
            except OverflowError:
                result = _OVERFLOW
            if isinstance(result, XLError) and not result.origin:
                result = replace(result, origin=_where(key))
            self.values[key] = result
            active.discard(key)
            stack.pop()

    def value(self, sheet: str, row: int, col: int) -> float | str | bool:
        """The value of one cell: a float, a str (a formula's text, e.g. "") or a bool (TRUE/
        FALSE); a `FormulaError` for an error value, an empty, text or boolean constant cell,
        or a formula outside the grammar."""
        key = (sheet, row, col)
        if key not in self.values:
            self._compute(key)
        v = self.values[key]
        if isinstance(v, _Unreadable):
            raise FormulaError(v.message)
        if isinstance(v, XLError):
            raise FormulaError(v.describe(_where(key)))
        return v

    def number(self, sheet: str, row: int, col: int) -> float:
        """The value of a cell that must be a number (text or TRUE/FALSE: `FormulaError`)."""
        v = self.value(sheet, row, col)
        if not isinstance(v, float):
            raise FormulaError(f"{_where((sheet, row, col))} holds {_text(v)}, not a number (a "
                               "spreadsheet gives #VALUE! when it is used as one)")
        return v

    def _read(self, key: Key) -> Result:
        if key not in self.values:
            raise _Need([key])
        v = self.values[key]
        if isinstance(v, _Unreadable):
            raise FormulaError(v.message)
        return v

    def _read_all(self, keys: list[Key]) -> list[Result]:
        values = self.values
        try:
            out = [values[k] for k in keys]
        except KeyError:
            raise _Need([k for k in keys if k not in values]) from None
        for v in out:
            if type(v) is _Unreadable:
                raise FormulaError(v.message)
        return out  # type: ignore[return-value]

    def _eval(self, node: Node) -> Result:
        """Evaluate an AST (depth = parenthesis nesting only); `_Need` when it reads a cell not
        computed yet."""
        kind = node[0]
        if kind == "num":
            return _finite(node[1])
        if kind == "str":
            return node[1]
        if kind == "cell":
            return self._read(node[1])
        if kind == "isnumber":
            if node[1] not in self.values:
                raise _Need([node[1]])
            return isinstance(self.values[node[1]], float)
        if kind == "if":
            cond = self._eval(node[1])
            if isinstance(cond, XLError):
                return cond
            branch = node[2] if _truth(cond, "IF") else node[3]
            return False if branch is None else self._eval(branch)
        if kind == "cmp":
            a, b = self._eval(node[2]), self._eval(node[3])
            for v in (a, b):
                if isinstance(v, XLError):
                    return v
            if not (isinstance(a, float) and isinstance(b, float)):
                raise FormulaError(f"comparison {_text(a)} {node[1]} {_text(b)}: only numbers "
                                   "are compared")
            return _compare(node[1], a, b)
        if kind == "fn":
            return self._function(node[1], [self._eval(arg) for arg in node[2]])
        if kind == "index":
            rect = node[1]
            row = _number(self._eval(node[2]), "INDEX")
            col = _number(self._eval(node[3]), "INDEX")
            if isinstance(row, XLError):
                return row
            if isinstance(col, XLError):
                return col
            i = _position(row, rect.shape[0], "row")
            j = _position(col, rect.shape[1], "column")
            for p in (i, j):
                if isinstance(p, XLError):
                    return p
            return self._read((rect.sheet, rect.r0 + i - 1, rect.c0 + j - 1))
        if kind == "sumproduct_terms":
            sides = []
            for term in (node[1], node[2]):
                parts = [self._read_all(r.keys()) for r in term]
                for v in (v for part in parts for v in part):
                    if type(v) is not float:
                        if isinstance(v, XLError):
                            return v
                        raise FormulaError(f"SUMPRODUCT over {_text(v)}")
                sides.append(parts[0] if len(parts) == 1 else
                             [x - y for x, y in zip(*parts, strict=True)])  # type: ignore[operator]
            return self._fsum(x * y for x, y in zip(*sides, strict=True))  # type: ignore[operator]
        if kind == "sumproduct":
            a, b = self._read_all(node[1].keys()), self._read_all(node[2].keys())
            for v in a + b:
                if type(v) is not float:
                    if isinstance(v, XLError):
                        return v
                    raise FormulaError(f"SUMPRODUCT over {_text(v)}, which a spreadsheet reads "
                                       "as 0")
            return self._fsum(x * y for x, y in zip(a, b, strict=True))  # type: ignore[operator]
        if kind == "agg":
            return self._aggregate(node[1], node[2])
        values = [self._eval(node[1])] + [self._eval(child) for _op, child in node[2]]
        nums = [_number(v, "arithmetic") for v in values]
        for v in nums:
            if isinstance(v, XLError):
                return v
        acc = nums[0]
        for (op, _child), v in zip(node[2], nums[1:], strict=True):
            assert isinstance(acc, float) and isinstance(v, float)
            if op == "/" and v == 0:
                return XLError("#DIV/0!", "division by zero")
            acc = acc + v if op == "+" else acc - v if op == "-" else acc * v if op == "*" \
                else acc / v
            if not math.isfinite(acc):
                return _OVERFLOW
        return acc

    @staticmethod
    def _function(name: str, args: list[Result]) -> Result:
        """INT, ABS, NOT, MOD, AND, OR of evaluated arguments."""
        for v in args:
            if isinstance(v, XLError):
                return v
        if name in ("AND", "OR", "NOT"):
            truths = [_truth(v, name) for v in args]  # type: ignore[arg-type]
            return all(truths) if name == "AND" else any(truths) if name == "OR" \
                else not truths[0]
        nums = [_number(v, name) for v in args]
        for x in nums:
            if isinstance(x, XLError):
                return x
        if name == "INT":
            return float(math.floor(nums[0]))  # type: ignore[arg-type]
        if name == "CHOOSE":
            pick = nums[0]
            if pick != int(pick) or not 1 <= pick < len(nums):  # type: ignore[operator]
                return XLError("#VALUE!", f"CHOOSE index {pick} of {len(nums) - 1}")
            return nums[int(pick)]  # type: ignore[arg-type]
        if name == "ABS":
            return abs(nums[0])  # type: ignore[arg-type]
        return _mod(*nums)  # type: ignore[arg-type]

    def _aggregate(self, name: str, args: tuple[float | Rect, ...]) -> Result:
        """SUM, MAX, AVERAGE: text produced by formulas in ranges is skipped, as Excel does."""
        keys = [k for arg in args if isinstance(arg, Rect) for k in arg.keys()]
        cells = iter(self._read_all(keys))
        numbers: list[float] = []
        for arg in args:
            if not isinstance(arg, Rect):
                numbers.append(arg)
                continue
            for _ in range(arg.shape[0] * arg.shape[1]):
                v = next(cells)
                if isinstance(v, XLError):
                    return v
                if isinstance(v, bool):
                    raise FormulaError(f"{name} over {_text(v)} in a range, which LibreOffice "
                                       "counts and Excel skips")
                if isinstance(v, float):
                    numbers.append(v)
        if name == "SUM":
            return self._fsum(numbers)
        if not numbers:
            if name == "MAX":
                raise FormulaError("MAX of no number")
            return XLError("#DIV/0!", "AVERAGE of no number")
        if name == "MAX":
            return max(numbers)
        total = self._fsum(numbers)
        return total if isinstance(total, XLError) else _finite(total / len(numbers))

    @staticmethod
    def _fsum(values: object) -> float | XLError:
        try:
            return _finite(math.fsum(values))  # type: ignore[arg-type]
        except (OverflowError, ValueError):  # intermediate overflow, inf - inf
            return _OVERFLOW

    def rect(self, rect: Rect) -> np.ndarray:
        """Values of a rectangle as a 2-D float array (text or TRUE/FALSE: `FormulaError`)."""
        return np.array([[self.number(rect.sheet, r, c) for c in range(rect.c0, rect.c1 + 1)]
                         for r in range(rect.r0, rect.r1 + 1)], dtype=float)

    def rect_values(self, rect: Rect) -> np.ndarray:
        """Values of a rectangle as a 2-D object array of float, str and bool."""
        out = np.empty(rect.shape, dtype=object)
        for i, j in np.ndindex(*rect.shape):
            out[i, j] = self.value(rect.sheet, rect.r0 + i, rect.c0 + j)
        return out

    def name(self, name: str) -> Rect:
        """Where a workbook-scope defined name points (one rectangle on one sheet)."""
        if name not in self.wb.defined_names:
            raise FormulaError(f"no defined name {name!r}")
        text = self.wb.defined_names[name].attr_text
        m = _TOKEN.fullmatch(text)
        if m is None or m.lastgroup in ("func", "num", "str", "op") or not (
                m.group("quoted") or m.group("bare")):
            raise FormulaError(f"defined name {name!r} = {text!r} is not Sheet!range")
        return _rect(m, "")

    def evaluate_all(self) -> int:
        """Evaluate every formula cell of every sheet; returns how many there are."""
        count = 0
        for sheet in self.wb.sheetnames:
            self.raw((sheet, 1, 1))  # reads the sheet
            for (row, col), value in list(self._cells[sheet].items()):
                if isinstance(value, str) and value.startswith("="):
                    self.value(sheet, row, col)
                    count += 1
        return count


def _col(n: int) -> str:
    return get_column_letter(n)


def _where(key: Key) -> str:
    return f"{key[0]}!{_col(key[2])}{key[1]}"
