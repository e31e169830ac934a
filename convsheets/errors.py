"""The exception tree. Each error is caught in exactly one place (the CLI), shown as one line,
and exits with its `exit_code`: 2 for anything the user must fix in their request or file.

Every error a user can cause derives from `ConvsheetsError`, so the CLI needs one `except`
clause and a library caller one base class; modules import their errors from here rather than
defining private ones that another layer would have to re-wrap.
"""

from __future__ import annotations


class ConvsheetsError(Exception):
    """Base of every error a user can cause; the message says how to fix it."""

    exit_code = 2


class SpecError(ConvsheetsError):
    """An invalid layer option: `param` names the option, `rule` states what it must be.

    Where the option came from decides how it is named for the user: ``--stride=0`` on the
    command line, ``layers[2] (maxpool1): stride=0`` in a network template. `where` is that
    prefix (empty: a command-line option)."""

    def __init__(self, param: str, value: object, rule: str, where: str = "") -> None:
        self.param = param
        self.value = value
        self.rule = rule
        self.where = where
        super().__init__(self._text())

    def _text(self) -> str:
        from .options import format_value, option_flag

        shown = "" if self.value is None else "=" + format_value(self.value)
        if self.where:
            return f"{self.where}: {self.param}{shown}: {self.rule}"
        return f"{option_flag(self.param)}{shown}: {self.rule}"

    def located(self, where: str) -> SpecError:
        """The same error, named as the option of one layer of a network."""
        return SpecError(self.param, self.value, self.rule, where)


class TemplateError(ConvsheetsError):
    """A --template file that cannot be read or has unknown/malformed keys (names file+key)."""


class ImageError(ConvsheetsError):
    """An --image that cannot be used (not an image, truncated, too large, wrong channels)."""


class WeightsError(ConvsheetsError):
    """A weights file (safetensors) or module that cannot be used: missing key, wrong shape,
    pickle, corrupt file, unsupported module."""


class LimitError(ConvsheetsError):
    """A request beyond what Excel can hold or what is sane to build (names count and limit)."""


class OutputError(ConvsheetsError):
    """A target file that cannot or must not be written (names the file and the cause)."""


class VerifyInputError(ConvsheetsError):
    """A file verify cannot use (not a convsheets workbook, corrupt, engine missing)."""


class EngineError(VerifyInputError):
    """Recalculation failed; the message is one line that tells the user what to do."""


class WorkbookReadError(VerifyInputError):
    """A workbook could not be read; the message is one line that says what to do."""


class CheckError(ConvsheetsError):
    """A workbook whose recalculated values differ from what PyTorch computes
    (`from_module(..., check=True)`): a failed verification, exit status 1."""

    exit_code = 1


def one_line(text: object, limit: int | None = None) -> str:
    """A message (or an exception's) as one line: what every error a user sees must be."""
    line = " ".join(str(text).split())
    return line[:limit] if limit else line
