"""Preset layer descriptions: one readable TOML file per variant in `convsheets/templates/`.

The presets ship inside the package (not a top-level folder) so that `pip install .` carries them.
A user's own `--template FILE` has the same format; unknown keys are refused, naming the key.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from .errors import SpecError, TemplateError
from .spec import OPTION_FIELDS, normalise
from .variants import VARIANTS

KNOWN_KEYS = ("variant",) + OPTION_FIELDS + ("backward", "loss", "target", "lr")


def preset(variant: str) -> dict[str, object]:
    """The shipped preset of `variant` (without its 'variant' key)."""
    text = resources.files("convsheets").joinpath("templates", f"{variant}.toml").read_text()
    values = tomllib.loads(text)
    values.pop("variant", None)
    return values


def load_template(path: Path) -> dict[str, object]:
    """Read a user template; returns its keys (including 'variant' if given). A network
    template (one with [[layers]]) is returned as read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        from .networks import shipped_networks

        raise TemplateError(f"--template {path}: no such file, and not the name of a shipped "
                            f"network ({', '.join(shipped_networks())}; convsheets list shows "
                            "them)") from None
    except OSError as exc:
        raise TemplateError(f"--template {path}: cannot read it ({exc.strerror})") from exc
    try:
        values = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"--template {path}: not valid TOML ({exc})") from exc
    if "layers" in values:
        return values  # a network: `networks.network_from_template` validates it
    for key in values:
        if key not in KNOWN_KEYS:
            raise TemplateError(f"--template {path}: unknown key {key!r} "
                                f"(known keys: {', '.join(KNOWN_KEYS)})")
    variant = values.get("variant")
    if isinstance(variant, str):  # any case, as on the command line
        variant = values["variant"] = variant.lower()
    if variant is not None and variant not in VARIANTS:
        raise TemplateError(f"--template {path}: variant {variant!r} is not one of "
                            + ", ".join(VARIANTS))
    for key, value in values.items():
        if key != "variant":
            try:
                normalise(key, value)
            except SpecError as exc:
                raise TemplateError(f"--template {path}: key {key!r} = {value!r} "
                                    f"{exc.rule}") from exc
    return values


def describe(values: dict[str, object]) -> str:
    """One-line summary of a preset, for `convsheets list`."""
    skip = {"variant", "seed", "values", "bias"}
    return ", ".join(f"{k}={v}" for k, v in values.items() if k not in skip)
