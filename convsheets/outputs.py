"""The one rule for every file convsheets writes (workbooks, handouts, CSV, JSON, PNG, PDF,
feedback copies), whichever command writes it:

1. **Atomically**: into a temporary file beside the target, flushed to disk, then renamed over
   it; an error or Ctrl-C leaves the old file (or nothing) and no temporary file behind.
2. **Never over someone else's file**: an existing file is replaced only when convsheets wrote
   it and nobody changed it since, or with ``--force`` (``force=True``). A read-only file is
   never replaced (make it writable first).
3. **One line**: a target that must not or cannot be written raises `OutputError` naming it
   and the cause (the command line shows it as one ``Error:`` line, exit status 2). Missing
   folders on the way are created (their parents must be folders).

How a file is recognised as convsheets' own:

- a workbook that ``convsheets build`` wrote carries its own marker: the ``convsheets``
  document property, creator ``convsheets`` and fixed zip entry times that any application
  saving the file rewrites (`is_convsheets_workbook`);
- every other file (CSV, JSON, PNG, PDF, feedback copies) is listed, with the SHA-256 of the
  bytes written, in a small manifest in its folder, `MANIFEST` (``.convsheets-files.json``).
  A file is ours only while its bytes still have that digest: edited, re-saved, replaced or
  copied in from elsewhere, it is someone else's. The formats themselves stay as they are (a
  gradebook CSV has no comment line; a PNG or PDF is not re-encoded).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError

MANIFEST = ".convsheets-files.json"  # in each folder convsheets wrote a CSV/JSON/PNG/PDF into
MANIFEST_MAX_BYTES = 4_000_000
_MANIFEST_KIND = "convsheets output files"
FORCE_HINT = "use --force, or force=True in Python, to replace it"


# ---------------------------------------------------------------------------- ownership
def is_convsheets_workbook(path: Path) -> bool:
    """True when `path` is an .xlsx that convsheets wrote and nobody saved since: our metadata
    property, our creator, our fixed modification time and our fixed zip entry times (which
    any application that saves the file rewrites, even a headless conversion that keeps the
    document properties, so a student's edited copy is never replaced silently and a
    recalculated copy is never mistaken for values convsheets stored)."""
    from .workbook import FIXED_TIME, GENERATOR, MAX_METADATA_BYTES, METADATA_KEY, ZIP_TIME

    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("docProps/custom.xml")
            if info.file_size > MAX_METADATA_BYTES:
                return False
            custom = zf.read(info).decode("utf-8", "replace")
            core = zf.read("docProps/core.xml").decode("utf-8", "replace")
            # every application that saves a package writes its own entry times
            untouched = all(entry.date_time == ZIP_TIME for entry in zf.infolist())
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return False
    stamp = FIXED_TIME.isoformat(timespec="seconds") + "Z</dcterms:modified>"
    return (untouched and f'name="{METADATA_KEY}"' in custom and f">{GENERATOR}<" in core
            and stamp in core)


def has_workbook_metadata(path: Path) -> bool:
    """True for an .xlsx carrying convsheets' metadata property, saved since or not."""
    from .workbook import MAX_METADATA_BYTES, METADATA_KEY

    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("docProps/custom.xml")
            return (info.file_size <= MAX_METADATA_BYTES and f'name="{METADATA_KEY}"'
                    in zf.read(info).decode("utf-8", "replace"))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return False


def is_ours(path: Path) -> bool:
    """True when convsheets wrote `path` and nobody changed it since (see the module's
    docstring): a workbook by its own marker, any file by the manifest of its folder."""
    return is_convsheets_workbook(path) or _listed(path)


def _listed(path: Path) -> bool:
    files = _read_manifest(path.parent, strict=False)
    digest = files.get(path.name)
    return isinstance(digest, str) and digest == _digest(path)


def _digest(path: Path) -> str | None:
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
    except OSError:
        return None
    return sha.hexdigest()


def _read_manifest(folder: Path, strict: bool) -> dict[str, str]:
    """The manifest's file -> digest entries; {} when there is none. A manifest convsheets
    cannot read: {} (nothing in the folder is recognised as ours), or, when `strict` (about to
    rewrite it), an OutputError: it is not replaced either."""
    path = folder / MANIFEST
    try:
        if path.stat().st_size > MANIFEST_MAX_BYTES:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(data, dict) and data.get("kind") == _MANIFEST_KIND
                and isinstance(data.get("files"), dict)):
            raise ValueError("not a convsheets manifest")
        return {str(k): v for k, v in data["files"].items() if isinstance(v, str)}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if strict:
            raise OutputError(f"{path}: convsheets lists the files it wrote in this folder in "
                              f"that file, but it cannot use it ({exc}); move it away") from None
        return {}


def _remember(path: Path, digest: str) -> None:
    """List `path` (its bytes' digest) in its folder's manifest, atomically; entries of files
    that are gone are dropped."""
    folder = path.parent
    files = _read_manifest(folder, strict=True)
    files = {name: d for name, d in files.items() if name != path.name and
             (folder / name).is_file()}
    files[path.name] = digest
    text = json.dumps({"kind": _MANIFEST_KIND, "files": dict(sorted(files.items()))},
                      indent=1) + "\n"
    manifest = folder / MANIFEST
    fd, tmp_name = tempfile.mkstemp(prefix=f"{MANIFEST}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, manifest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------------------- checks
def check_target(path: Path, force: bool = False, *, kind: str = "") -> None:
    """Refuse, before anything is computed or written, a target that must not be replaced:
    a folder, a read-only file, a file convsheets did not write (unless `force`), a path
    through a file. `kind` ("a .csv file") completes the message about a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name"
                          + (f" ({kind})" if kind else ""))
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: cannot write there ({parent} is a file, not a "
                                  "folder)")
            break
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_file():
        raise OutputError(f"{path}: exists and is not a regular file; refusing to replace it")
    if not force and not is_ours(path):
        if path.suffix.lower() == ".xlsx" and has_workbook_metadata(path):
            raise OutputError(f"{path}: was written by convsheets and edited (saved by an "
                              f"application) since; refusing to overwrite the edits "
                              f"({FORCE_HINT})")
        raise OutputError(f"{path}: exists and was not written by convsheets; refusing to "
                          f"overwrite it ({FORCE_HINT})")
    if not os.stat(path).st_mode & 0o222:
        raise OutputError(f"{path}: is read-only; refusing to replace it (make it writable "
                          "first, or choose another name)")


def check_folder(folder: Path) -> None:
    """Refuse early a folder that files cannot be written into: a file in its place or on its
    path, or an existing folder that refuses a new file (read-only, immutable, a read-only
    file system; tried with a temporary file, since permissions do not bind root)."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"is below {existing}, a file"
        raise OutputError(f"{folder}: {where}; give a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".convsheets-probe.", dir=existing)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write there ({reason(exc)})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_targets(paths: Sequence[Path], force: bool = False) -> None:
    """`check_target` for each path and `check_folder` for each folder: every refusal before
    anything is written."""
    for folder in dict.fromkeys(Path(p).parent for p in paths):
        check_folder(folder)
    for path in paths:
        check_target(Path(path), force)


# ---------------------------------------------------------------------------- writing
@contextlib.contextmanager
def atomic_write(path: Path, force: bool = False, *, check: bool = True,
                 listed: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s new content into; when the block ends without error
    the content replaces `path` (and, `listed`, is recorded in the folder's manifest); on any
    error nothing changes. `check`: apply `check_target` first. Errors about the target are
    `OutputError`s naming it."""
    path = Path(path)
    if check:
        check_target(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({reason(exc)})") from None
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                yield out  # type: ignore[misc]
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            if listed:
                digest = _digest(tmp)
                if digest is None:
                    raise OSError(errno.EIO, "cannot read back the file written")
                _remember(path, digest)
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write it ({reason(exc)})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: Path, data: bytes, force: bool = False) -> Path:
    """`data` at `path`, by the rule (atomically, never over a file that is not ours)."""
    with atomic_write(path, force) as out:
        out.write(data)
    return Path(path)


def write_text(path: Path, text: str, force: bool = False) -> Path:
    """`text` (UTF-8) at `path`, by the rule."""
    return write_bytes(path, text.encode("utf-8"), force)


def copy_file(source: Path, path: Path, force: bool = False) -> Path:
    """A copy of `source` at `path`, by the rule."""
    import shutil

    with atomic_write(path, force) as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
    return Path(path)


@contextlib.contextmanager
def private_tempdir() -> Iterator[None]:
    """openpyxl streams each sheet through a temporary file; keep those in a directory we
    remove ourselves, so an interrupted write leaves no litter in the system temp folder."""
    saved = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="convsheets-") as private:
        tempfile.tempdir = private
        try:
            yield
        finally:
            tempfile.tempdir = saved


def reason(exc: OSError) -> str:
    """The cause of an OSError, in words."""
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return "a folder on its path is a file"
    return exc.strerror or str(exc)


__all__ = ["MANIFEST", "atomic_write", "check_folder", "check_target", "check_targets",
           "copy_file", "is_convsheets_workbook", "is_ours", "write_bytes", "write_text"]
