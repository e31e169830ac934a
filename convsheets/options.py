"""How option values are spelled and read: pairs (3 or 3x2 or [3, 2]), whole numbers, flags.

One place for the forms a user may type, shared by the command line, variant presets and network
templates, so `--stride 2x1` and `stride = "2x1"` and `stride = [2, 1]` mean the same thing.
"""

from __future__ import annotations

from .errors import SpecError

Pair = tuple[int, int]
VALUE_KINDS = ("integers", "normal")


def option_flag(param: str) -> str:
    """The command-line spelling of an option, used in every message about a CLI option."""
    return "--" + param.replace("_", "-")


def format_value(value: object) -> str:
    """Show pairs the way the user types them (3x2), everything else plainly."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'  # quoted: out_channels="2" is text, not the number 2
    return str(value)


def parse_pair(text: str) -> Pair:
    """'3' -> (3, 3); '3x2' -> (3, 2). Raises ValueError on anything else."""
    parts = str(text).strip().lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ValueError(f"{text!r} is not N or NxM (e.g. 3 or 3x2)")
    nums = [int(p) for p in parts]
    return (nums[0], nums[-1])


def to_pair(key: str, value: object) -> Pair:
    """Accept 3, '3x2', [3, 2] (and a pair already normalised)."""
    if isinstance(value, bool):
        raise SpecError(key, value, "must be N or NxM")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    if isinstance(value, str):
        try:
            return parse_pair(value)
        except ValueError as exc:
            raise SpecError(key, value, "must be N or NxM (e.g. 3 or 3x2)") from exc
    raise SpecError(key, value, "must be N or NxM (e.g. 3 or 3x2)")


PADDING_RULES = ("same", "valid", "causal")  # a convolution's padding given as text


def to_padding(key: str, value: object) -> Pair | str:
    """A convolution's padding: a pair, or PyTorch's "same" / "valid" (or "causal", conv1d's
    left-only padding); the op says which texts it takes."""
    if isinstance(value, str) and value.strip().lower() in PADDING_RULES:
        return value.strip().lower()
    try:
        return to_pair(key, value)
    except SpecError:
        raise SpecError(key, value, 'must be N or NxM, "same" or "valid"') from None


def to_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(key, value, "must be a whole number")
    return value


def to_float(key: str, value: object) -> float:
    """A finite number that a spreadsheet holds exactly as written: Excel keeps 15 significant
    digits, so a longer one would silently become another number in the formulas."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(key, value, "must be a number")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise SpecError(key, value, "must be a finite number")
    if float(f"{number:.15g}") != number:
        raise SpecError(key, value, "must have at most 15 significant digits (what a "
                        "spreadsheet keeps)")
    return number


def to_bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SpecError(key, value, "must be true or false")
    return value


def to_float_pair(key: str, value: object) -> tuple[float, float]:
    """A number or two (upsample's scale_factor: 2, 1.5, [2, 3]), each as `to_float` reads it."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise SpecError(key, value, "must be a number or a pair of numbers")
        return (to_float(key, value[0]), to_float(key, value[1]))
    number = to_float(key, value)
    return (number, number)


def to_text(key: str, value: object) -> str:
    """A word option (gelu's approximate, upsample's mode): the op checks which words."""
    if not isinstance(value, str):
        raise SpecError(key, value, "must be a word in quotes")
    return value


def to_values(key: str, value: object) -> str:
    if value not in VALUE_KINDS:
        raise SpecError(key, value, "must be one of " + ", ".join(VALUE_KINDS))
    return str(value)


def check_pair(name: str, value: Pair, minimum: int) -> None:
    """PyTorch's rules: sizes, strides and dilations at least 1, paddings not negative."""
    if min(value) < minimum:
        rule = "must be at least 1" if minimum == 1 else "must not be negative"
        raise SpecError(name, value, rule)


def check_positive(name: str, value: int) -> None:
    if value < 1:
        raise SpecError(name, value, "must be at least 1")
