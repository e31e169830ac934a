"""The IronCalc child process: ``python -m convsheets.engines._ironcalc_child IN OUT [IN OUT
...]``. Loads, evaluates and saves each workbook, printing a line after each; any failure,
including IronCalc's panics (BaseException), ends the child with one line on stderr."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

# A cell with a style but no value may be written `<c r="F10" s="7" t="n"/>` (openpyxl does):
# empty in Excel, LibreOffice and Gnumeric, but the number 0 to IronCalc. Such cells lose the
# type before IronCalc reads the file, so an empty cell (the explorer's step) stays empty.
_EMPTY_NUMBER = re.compile(rb'(<c [^>]*?) t="n"(\s*/>|></c>)')


def _loadable(source: str, n: int) -> str:
    """`source`, or a copy in the working directory whose empty cells have no type."""
    with zipfile.ZipFile(source) as zf:
        sheets = [i for i in zf.infolist() if i.filename.startswith("xl/worksheets/")
                  and i.filename.endswith(".xml")]
        if not any(_EMPTY_NUMBER.search(zf.read(i)) for i in sheets):
            return source
        copy = Path(f"loadable-{n}.xlsx").resolve()
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                data = zf.read(info)
                if info in sheets:
                    data = _EMPTY_NUMBER.sub(rb"\1\2", data)
                out.writestr(info, data)
    return str(copy)


def main(argv: list[str]) -> int:
    import ironcalc

    from convsheets.engines.ironcalc import DONE

    pairs = list(zip(argv[::2], argv[1::2], strict=True))
    for n, (source, target) in enumerate(pairs):
        try:
            model = ironcalc.load_from_xlsx(_loadable(source, n))
            model.evaluate()
            model.save_to_xlsx(target)
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException
            text = " ".join(str(exc).split()) or type(exc).__name__
            print(f"convsheets-ironcalc-error: {type(exc).__name__}: {text[:300]}",
                  file=sys.stderr, flush=True)
            return 3
        print(DONE, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
