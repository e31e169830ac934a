"""The exception tree. Each error is caught in exactly one place (the CLI), shown as one line,
and exits with its `exit_code`: 2 for anything the user must fix in their request or file."""


class ConvsheetsError(Exception):
    """Base of every error a user can cause; the message says how to fix it."""

    exit_code = 2


class TemplateError(ConvsheetsError):
    """A --template file that cannot be read or has unknown/malformed keys (names file+key)."""


class LimitError(ConvsheetsError):
    """A request beyond what Excel can hold or what is sane to build (names count and limit)."""


class OutputError(ConvsheetsError):
    """A target file that cannot or must not be written (names the file and the cause)."""


class VerifyInputError(ConvsheetsError):
    """A file verify cannot use (not a convsheets workbook, corrupt, engine missing)."""
