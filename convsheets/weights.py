"""Named tensors from a safetensors file, as float64 arrays, for ``--weights``.

Only the safetensors format is read: a header of names, dtypes, shapes and byte offsets, then
raw little-endian numbers, so reading a file can never run code. PyTorch's own ``.pt``/``.pth``
files (and other pickles) can, and are refused with a one-line recipe to convert them.

Every dtype read is widened to float64 exactly: float16 and float32 by numpy, bfloat16 (which
numpy does not have) by hand, since a bfloat16 is the top 16 bits of a float32. Tensors of
other dtypes (integers, booleans, 8-bit floats) cannot be a layer's weights; they are left out
of the result and listed in its ``unread`` attribute (a state_dict's BatchNorm layers carry an
int64 ``num_batches_tracked``, which must not make the whole file unreadable).
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np

from .errors import WeightsError, one_line

MAX_FILE_BYTES = 2 * 1024**3  # a model whose first layers fit a workbook is far smaller
MAX_ELEMENTS = 200_000_000  # numbers read (as float64: 1.6 GB; VGG-16 has 138 million)
MAX_HEADER_BYTES = 16 * 1024**2  # the JSON table of tensors (a large LLM's is ~1 MB)
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")
CONVERT = ('convert it once, in Python: safetensors.torch.save_file(model.state_dict(), '
           '"model.safetensors")')

# safetensors dtype -> (bytes per element, numpy dtype read exactly, or None: not a weight)
DTYPES: dict[str, tuple[int, str | None]] = {
    "F64": (8, "<f8"), "F32": (4, "<f4"), "F16": (2, "<f2"), "BF16": (2, "bf16"),
    "I64": (8, None), "I32": (4, None), "I16": (2, None), "I8": (1, None),
    "U64": (8, None), "U32": (4, None), "U16": (2, None), "U8": (1, None),
    "BOOL": (1, None), "F8_E4M3": (1, None), "F8_E5M2": (1, None),
}


class Weights(dict[str, np.ndarray]):
    """Tensor name -> float64 array. `unread` maps the names of tensors that were left out
    (integer, boolean or 8-bit float dtypes) to their dtype, so a message can say why a
    name is missing."""

    def __init__(self, tensors: dict[str, np.ndarray], unread: dict[str, str],
                 path: Path) -> None:
        super().__init__(tensors)
        self.unread = unread
        self.path = path


def read_safetensors(path: Path | str) -> Weights:
    """Every floating-point tensor of a ``.safetensors`` file as a float64 array (exactly the
    stored numbers). Raises `WeightsError`, one line naming the file, for a pickle, a missing,
    empty, truncated or corrupt file, and for files beyond the size limits."""
    path = Path(path)
    size = _check_file(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise WeightsError(f"{path}: a {path.suffix} file is a Python pickle, which can run "
                           f"code when loaded; convsheets reads only .safetensors: {CONVERT}")
    with _open(path) as f:
        head = f.read(9)
    _refuse_pickle(path, head)
    if len(head) < 9:
        raise WeightsError(f"{path}: truncated ({size} bytes): not a safetensors file")
    header_len = int.from_bytes(head[:8], "little")
    if header_len > MAX_HEADER_BYTES:
        if header_len + 8 > size:
            raise WeightsError(f"{path}: not a safetensors file (corrupt or truncated: its "
                               f"header would be {header_len:,} bytes, the file has {size:,})")
        raise WeightsError(f"{path}: its header is {header_len:,} bytes; convsheets reads at "
                           f"most {MAX_HEADER_BYTES:,}")
    if header_len + 8 > size:
        raise WeightsError(f"{path}: truncated: its header needs {header_len + 8:,} bytes, "
                           f"the file has {size:,}")
    if head[8:9] != b"{":
        raise WeightsError(f"{path}: not a safetensors file (its header is not a JSON table)")
    with _open(path) as f:
        f.seek(8)
        raw = f.read(header_len)
    table = _parse_header(path, raw)
    data_len = size - 8 - header_len
    elements = 0
    for name, (dtype, shape, (begin, end)) in table.items():
        count = math.prod(shape)
        if end - begin != count * DTYPES[dtype][0]:
            raise WeightsError(f"{path}: corrupt: tensor {name} ({dtype}, shape {tuple(shape)}) "
                               f"has {end - begin} bytes of data")
        if end > data_len:
            raise WeightsError(f"{path}: truncated: tensor {name} needs bytes up to {end:,} "
                               f"of the data, the file holds {data_len:,}")
        if DTYPES[dtype][1] is not None:
            elements += count
    if elements > MAX_ELEMENTS:
        raise WeightsError(f"{path}: holds {elements:,} numbers; convsheets reads at most "
                           f"{MAX_ELEMENTS:,} (save only the layers you draw)")
    wanted = {n for n, (dtype, _, _) in table.items() if DTYPES[dtype][1] is not None}
    unread = {n: dtype for n, (dtype, _, _) in table.items() if n not in wanted}
    if not wanted:
        shown = ", ".join(f"{n} ({d})" for n, d in sorted(unread.items())[:4])
        raise WeightsError(f"{path}: holds no float16, bfloat16, float32 or float64 tensors"
                           + (f" (only {shown})" if shown else " (it is empty)"))
    tensors = _load(path, table, wanted, data_start=8 + header_len)
    return Weights(tensors, unread, path)


def _check_file(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise WeightsError(f"{path}: is a directory; give a .safetensors file")
    if not stat.S_ISREG(info.st_mode):
        raise WeightsError(f"{path}: not a regular file; give a .safetensors file")
    if info.st_size == 0:
        raise WeightsError(f"{path}: is empty; give a .safetensors file")
    if info.st_size > MAX_FILE_BYTES:
        raise WeightsError(f"{path}: is {info.st_size / 1024**3:.1f} GB; convsheets reads "
                           f"weights files of at most {MAX_FILE_BYTES / 1024**3:.0f} GB (save "
                           "only the layers you draw)")
    return info.st_size


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        return open(path, "rb")
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _refuse_pickle(path: Path, head: bytes) -> None:
    """torch.save writes a zip archive (PK..) or, before PyTorch 1.6, a bare pickle (0x80 and
    the protocol). A safetensors header length may start with 0x80 too, but its JSON table
    then opens with "{" at byte 8."""
    zipped = head.startswith(b"PK\x03\x04")
    pickled = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[8:9] != b"{"
    if zipped or pickled:
        kind = "a zip archive (what torch.save writes)" if zipped else "a Python pickle"
        raise WeightsError(f"{path}: is {kind}, which can run code when loaded; convsheets "
                           f"reads only .safetensors: {CONVERT}")


def _parse_header(path: Path, raw: bytes) -> dict[str, tuple[str, list[int], tuple[int, int]]]:
    """name -> (dtype, shape, (begin, end) in the data), every entry checked."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeightsError(f"{path}: corrupt: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: corrupt: its header is not a table of tensors")
    table = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        ok = (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
              and isinstance(entry.get("shape"), list)
              and all(_count(v) for v in entry["shape"])
              and isinstance(entry.get("data_offsets"), list)
              and len(entry["data_offsets"]) == 2
              and all(_count(v) for v in entry["data_offsets"])
              and entry["data_offsets"][0] <= entry["data_offsets"][1])
        if not ok:
            raise WeightsError(f"{path}: corrupt: the header entry of {name!r} is malformed")
        if entry["dtype"] not in DTYPES:
            raise WeightsError(f"{path}: tensor {name} has dtype {entry['dtype']}, which "
                               "convsheets does not know (float16, bfloat16, float32, float64)")
        table[name] = (entry["dtype"], entry["shape"], tuple(entry["data_offsets"]))
    return table  # type: ignore[return-value]


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _load(path: Path, table: dict[str, tuple[str, list[int], tuple[int, int]]],
          wanted: set[str], data_start: int) -> dict[str, np.ndarray]:
    """The wanted tensors as float64, read by the safetensors package (which checks the
    layout once more: offsets contiguous, every byte accounted for); bfloat16 by hand."""
    from safetensors import SafetensorError, safe_open

    out: dict[str, np.ndarray] = {}
    try:
        with safe_open(os.fspath(path), framework="numpy") as f:
            for name in sorted(wanted, key=lambda n: table[n][2][0]):
                dtype, shape, (begin, end) = table[name]
                if dtype == "BF16":
                    out[name] = _bfloat16(path, data_start + begin, end - begin, shape)
                else:
                    array = f.get_tensor(name)
                    out[name] = np.asarray(array, dtype=np.float64).reshape(shape)
    except SafetensorError as exc:
        raise WeightsError(f"{path}: corrupt: {one_line(str(exc))}") from None
    except (OSError, ValueError, TypeError, MemoryError) as exc:
        raise WeightsError(f"{path}: cannot read it ({one_line(str(exc))})") from None
    return {name: out[name] for name in table if name in out}  # the file's order


def _bfloat16(path: Path, offset: int, length: int, shape: list[int]) -> np.ndarray:
    """bfloat16 is the top half of a float32: shift the 16 bits up and reinterpret."""
    with _open(path) as f:
        f.seek(offset)
        raw = f.read(length)
    if len(raw) != length:
        raise WeightsError(f"{path}: truncated inside a bfloat16 tensor")
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).astype(np.float64).reshape(shape)


