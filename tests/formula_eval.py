"""A tiny, strict evaluator for exactly the formulas convsheets writes, from the .xlsx alone.

Grammar (anything else raises `FormulaError`, so a new construct cannot evaluate wrongly):

    formula := "=" expr
    expr    := term (("+" | "-") term)*                    left to right
    term    := atom (("*" | "/") atom)*                    left to right, binds tighter
    atom    := NUMBER | CELL | "(" expr ")" | "INT(" expr ")"
             | "SUMPRODUCT(" RANGE "," RANGE ")"          (two rectangles of the same shape)
             | ("SUM(" | "MAX(" | "AVERAGE(") ARG ("," ARG)* ")"    (1 to 255 ARGs)
    ARG     := NUMBER | RANGE
    CELL    := [SHEET "!"] ADDRESS                         e.g. B4, $B$4, Input!B4, 'A b'!B4
    RANGE   := [SHEET "!"] ADDRESS ":" ADDRESS  (top-left to bottom-right) or a single CELL
    SHEET   := [A-Za-z_][A-Za-z0-9_]* | "'" ([^'] | "''")+ "'"     ('' is an escaped quote)
    ADDRESS := ["$"] [A-Z]{1,3} ["$"] [0-9]+
    NUMBER  := unsigned decimal, optional exponent         e.g. 0, 9, 2.5, .5, 1.5e1

A range (more than one cell) is only allowed as a function argument, never as an operand.

Spreadsheet semantics: IEEE doubles, `INT` rounds toward minus infinity, `AVERAGE` divides by
the number of cells and literals. Stricter than a spreadsheet on purpose: a reference to an
empty, text or boolean cell (also inside a range given to SUM, MAX or AVERAGE, where a
spreadsheet would skip it), division by zero and circular references raise instead of silently
reading 0, skipping or giving an error value, because convsheets never writes such things. No
spaces (a space is Excel's intersection operator), no unary minus, no other function.

Independent of convsheets: it reads only the workbook loaded by openpyxl. Cells are evaluated in
dependency order with an explicit stack (no Python recursion over cell chains) and memoised.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
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


# ---------------------------------------------------------------------------- tokenizer
_SHEET = r"(?:'(?P<quoted>(?:[^']|'')+)'|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))!"
_ADDR = r"\$?[A-Z]{1,3}\$?[0-9]+"
_TOKEN = re.compile(
    rf"(?P<func>[A-Z][A-Z0-9.]*)\("
    rf"|(?P<ref>(?:{_SHEET})?(?P<a>{_ADDR})(?::(?P<b>{_ADDR}))?)"
    r"|(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<op>[-+*/(),])"
)
_ADDR_PARTS = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)")


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
    """[(kind, value)]: ("func", name), ("ref", Rect), ("num", float), ("op", char)."""
    if not formula.startswith("="):
        raise FormulaError(f"not a formula: {formula!r}")
    tokens: list[tuple[str, object]] = []
    pos, text = 1, formula
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaError(f"{formula!r}: unexpected {text[pos:pos + 10]!r} at {pos}")
        kind = m.lastgroup if m.lastgroup in ("func", "num", "op") else "ref"
        if kind == "func":
            tokens.append(("func", m.group("func")))
        elif kind == "num":
            tokens.append(("num", float(m.group("num"))))
        elif kind == "op":
            tokens.append(("op", m.group("op")))
        else:
            tokens.append(("ref", _rect(m, here)))
        pos = m.end()
    return tokens


# ---------------------------------------------------------------------------- parser
# AST nodes: ("num", float) | ("cell", Key) | ("sum", first, [(op, node), ...])
#            | ("prod", first, [(op, node), ...]) | ("int", node) | ("sumproduct", Rect, Rect)
#            | ("agg", "SUM" | "MAX" | "AVERAGE", (float | Rect, ...))
Node = tuple

AGGREGATES = ("SUM", "MAX", "AVERAGE")
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

    def take_op(self, ops: str) -> str | None:
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
        first, rest = self.term(), []
        while (op := self.take_op("+-")) is not None:
            rest.append((op, self.term()))
        return ("sum", first, rest) if rest else first

    def term(self) -> Node:
        first, rest = self.atom(), []
        while (op := self.take_op("*/")) is not None:
            rest.append((op, self.atom()))
        return ("prod", first, rest) if rest else first

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("expected a number, a cell, '(' or a function")
        kind, value = tok
        if kind == "num":
            self.pos += 1
            return ("num", value)
        if kind == "ref":
            assert isinstance(value, Rect)
            if value.shape != (1, 1):
                raise self.fail("a range is only allowed as an argument of SUMPRODUCT, SUM, "
                                "MAX or AVERAGE")
            self.pos += 1
            return ("cell", value.keys()[0])
        if kind == "func":
            self.pos += 1
            if value == "INT":
                node = ("int", self.expr())
                self.expect(")")
                return node
            if value == "SUMPRODUCT":
                a = self.rect()
                self.expect(",")
                b = self.rect()
                self.expect(")")
                if a.shape != b.shape:
                    raise FormulaError(f"{self.formula!r}: SUMPRODUCT of a {a.shape} and a "
                                       f"{b.shape} range")
                return ("sumproduct", a, b)
            if value in AGGREGATES:
                return ("agg", value, self.arguments(str(value)))
            raise FormulaError(f"{self.formula!r}: function {value} is outside the grammar")
        if self.take_op("("):
            node = self.expr()
            self.expect(")")
            return node
        raise self.fail("expected a number, a cell, '(' or a function")

    def rect(self) -> Rect:
        tok = self.peek()
        if tok is None or tok[0] != "ref":
            raise self.fail("SUMPRODUCT takes ranges")
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
def compile_formula(formula: str, here: str) -> tuple[Node, tuple[Key, ...]]:
    """(AST, cells it reads), cached: a probe copy re-evaluates the same formula texts."""
    node = parse(formula, here)
    return node, tuple(dependencies(node))


def dependencies(node: Node) -> list[Key]:
    """Every cell the formula reads."""
    out: list[Key] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "cell":
            out.append(n[1])
        elif n[0] == "sumproduct":
            out += n[1].keys() + n[2].keys()
        elif n[0] == "agg":
            for arg in n[2]:
                if isinstance(arg, Rect):
                    out += arg.keys()
        elif n[0] == "int":
            stack.append(n[1])
        elif n[0] in ("sum", "prod"):
            stack.append(n[1])
            stack.extend(child for _op, child in n[2])
    return out


# ---------------------------------------------------------------------------- evaluator
class Evaluator:
    """Values of the cells of an openpyxl workbook (loaded with formulas, not cached values).

    Each sheet is read once, when first needed: edit the workbook before evaluating, or use a
    new Evaluator after editing it."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.values: dict[Key, float] = {}
        self._parsed: dict[Key, tuple[Node, tuple[Key, ...]]] = {}
        self._cells: dict[str, dict[tuple[int, int], object]] = {}

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
        """(AST, dependencies) of a formula cell, None for a number; raises otherwise."""
        if key in self._parsed:
            return self._parsed[key]
        value = self.raw(key)
        where = f"{key[0]}!{_col(key[2])}{key[1]}"
        if isinstance(value, str) and value.startswith("="):
            try:
                self._parsed[key] = compile_formula(value, key[0])
            except FormulaError as exc:
                raise FormulaError(f"{where}: {exc}") from None
            return self._parsed[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "an empty cell" if value is None else f"{type(value).__name__} {value!r}"
            raise FormulaError(f"{where} is {what}, not a number or a formula")
        self.values[key] = float(value)
        return None

    def value(self, sheet: str, row: int, col: int) -> float:
        """The value of one cell, evaluating what it depends on first (iteratively)."""
        stack, visiting = [(sheet, row, col)], set()
        while stack:
            key = stack[-1]
            if key in self.values:
                stack.pop()
                continue
            parsed = self._formula(key)
            if parsed is None:  # a number, now memoised
                stack.pop()
                continue
            node, deps = parsed
            missing = [d for d in deps if d not in self.values]
            if missing:
                if key in visiting:
                    raise FormulaError(f"circular reference through {key[0]}!{_col(key[2])}"
                                       f"{key[1]}")
                visiting.add(key)
                stack.extend(missing)
                continue
            where = f"{key[0]}!{_col(key[2])}{key[1]}"
            try:
                result = self._eval(node)
            except ZeroDivisionError:
                raise FormulaError(f"{where}: division by zero (#DIV/0!)") from None
            except (OverflowError, ValueError):  # INT or fsum of an infinity
                raise FormulaError(f"{where}: overflow (#NUM!)") from None
            if not math.isfinite(result):
                raise FormulaError(f"{where}: overflow (#NUM!)")
            self.values[key] = result
            visiting.discard(key)
            stack.pop()
        return self.values[(sheet, row, col)]

    def _eval(self, node: Node) -> float:
        """Evaluate an AST whose cells are all computed (depth = parenthesis nesting only)."""
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "cell":
            return self.values[node[1]]
        if kind == "int":
            return float(math.floor(self._eval(node[1])))
        if kind == "sumproduct":
            return math.fsum(self.values[a] * self.values[b]
                             for a, b in zip(node[1].keys(), node[2].keys(), strict=True))
        if kind == "agg":
            values: list[float] = []
            for arg in node[2]:
                if isinstance(arg, Rect):
                    values += [self.values[k] for k in arg.keys()]
                else:
                    values.append(arg)
            if node[1] == "MAX":
                return max(values)
            total = math.fsum(values)
            return total if node[1] == "SUM" else total / len(values)
        acc = self._eval(node[1])
        for op, child in node[2]:
            v = self._eval(child)
            if op == "+":
                acc += v
            elif op == "-":
                acc -= v
            elif op == "*":
                acc *= v
            else:
                acc /= v
        return acc

    def rect(self, rect: Rect) -> np.ndarray:
        """Values of a rectangle as a 2-D array."""
        return np.array([[self.value(rect.sheet, r, c) for c in range(rect.c0, rect.c1 + 1)]
                         for r in range(rect.r0, rect.r1 + 1)], dtype=float)

    def name(self, name: str) -> Rect:
        """Where a workbook-scope defined name points (one rectangle on one sheet)."""
        if name not in self.wb.defined_names:
            raise FormulaError(f"no defined name {name!r}")
        text = self.wb.defined_names[name].attr_text
        m = _TOKEN.fullmatch(text)
        if m is None or m.lastgroup in ("func", "num", "op") or not (m.group("quoted")
                                                                   or m.group("bare")):
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
