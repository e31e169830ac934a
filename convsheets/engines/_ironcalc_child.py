"""The IronCalc child process: ``python -m convsheets.engines._ironcalc_child IN OUT [IN OUT
...]``. Loads, evaluates and saves each workbook, printing a line after each; any failure,
including IronCalc's panics (BaseException), ends the child with one line on stderr."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import ironcalc

    from convsheets.engines.ironcalc import DONE

    pairs = list(zip(argv[::2], argv[1::2], strict=True))
    for source, target in pairs:
        try:
            model = ironcalc.load_from_xlsx(source)
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
