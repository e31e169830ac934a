"""Pictures as input tensors: `--image PATH|NAME` read with Pillow into integers 0-255.

The file is untrusted: whatever it holds (not an image, truncated, a decompression bomb, a folder,
nothing at all), the user gets one `ImageError` line naming the file and the reason, never a
traceback. It is read once into memory (at most `MAX_FILE_BYTES`) and decoded from there, with
Pillow's decompression-bomb warning raised as an error and only the formats named in `FORMATS`
allowed (no plugin that would call out to another program).

Bundled samples (`SAMPLES`) are small PNGs drawn by `samples/make_samples.py`; they ship inside
the package, so ``--image digit`` works offline and from any folder.
"""

from __future__ import annotations

import io
import math
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageError, SpecError, one_line
from .options import Pair

SAMPLES: dict[str, str] = {
    "digit": "a handwritten-style 3, 28x28 grey, white on black like MNIST",
    "drawing": "a handwritten-style 2, 32x32 grey, black ink on white as drawn in a paint "
               "program (the digit_classifier's default input)",
    "scene": "a house on a horizon, 32x32 grey, with clear horizontal and vertical edges",
    "colour": "red, green and blue discs overlapping on black, 24x24 RGB",
}

# The formats the issue promises; Pillow refuses every other one when opening.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
FORMATS_TEXT = "PNG, JPEG, GIF, BMP or WebP"
CHANNELS = {1: "L", 3: "RGB"}  # --in-channels -> the Pillow mode the image is converted to
MAX_FILE_BYTES = 50 * 1024 * 1024


def sample_path(name: str) -> Path:
    """The file of the bundled sample `name` (a key of `SAMPLES`), inside the installed package."""
    if name not in SAMPLES:
        raise ImageError(f"no bundled sample {name!r}; the samples are: {', '.join(SAMPLES)}")
    return Path(str(resources.files("convsheets") / "samples" / f"{name}.png"))


def load_image(image: str, channels: int, size: Pair | None,
               max_pixels: int = 1_000_000, notes: list[str] | None = None) -> np.ndarray:
    """The picture `image` as an int64 array (channels, H, W) of values 0-255.

    `image` is a file path or the name of a bundled sample (`SAMPLES`); a name is used only if no
    file (or folder) of that name exists, so ``--image digit`` reads ``./digit`` when there is one.

    Alpha is composited on white first (modes with an alpha band, and palette, grey or RGB images
    with a transparent colour), then the picture is converted with Pillow: ``convert("L")`` for
    ``channels == 1``, ``convert("RGB")`` for 3 (channels in R, G, B order); other counts are
    refused. 16-bit grey PNGs are first reduced to 8 bits (round(v / 257)); Pillow's own
    conversion would clip them at 255. Animated GIF and WebP give their first frame.

    `size` (H, W) resizes with ``resize((W, H), Image.Resampling.BOX)``, only when the picture's
    size differs. None keeps the picture's own size if H*W <= `max_pixels`, else an `ImageError`
    suggests an ``--input-size`` of the same aspect ratio that fits. A resize is described
    in `notes` (when given), saying whether it changes the picture's aspect ratio.
    """
    shown = _shown(image)
    if channels not in CHANNELS:
        raise ImageError(f"--image {shown}: an image gives 1 (grey) or 3 (R, G, B) channels, not "
                         f"--in-channels={channels}; use --in-channels 1 or --in-channels 3")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise SpecError("input_size", tuple(size), "must be at least 1x1")
    img = _open(image, shown)
    height, width = img.height, img.width
    if size is None and height * width > max_pixels:
        h, w = suggest_size((height, width), max_pixels)
        raise ImageError(f"--image {shown}: {height}x{width} pixels (height x width) is more "
                         f"than the {max_pixels:,} a block may hold; ask for a smaller size of "
                         f"the same shape, e.g. --input-size {h}x{w}")
    img = _decode(img, shown)
    img = _to_mode(img, CHANNELS[channels])
    if size is not None and (height, width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BOX)
        if notes is not None:
            notes.append(resize_note((height, width), size))
    array = np.asarray(img, dtype=np.int64)
    if array.ndim == 2:
        array = array[np.newaxis]
    else:
        array = array.transpose(2, 0, 1)
    return np.ascontiguousarray(array)


def resize_note(original: Pair, size: Pair) -> str:
    """How a picture was resized, in words: "resized from 64x48 to 12x12 pixels (height x
    width), squashed: its aspect ratio changed (an input size of the same shape: 16x12)"."""
    (h0, w0), (h, w) = original, size
    text = f"resized from {h0}x{w0} to {h}x{w} pixels (height x width)"
    if abs(h * w0 - w * h0) * 50 <= h0 * w0:  # within 2 %: the same shape
        return text
    kept = suggest_size(original, h * w)
    return (text + f", {'squashed' if h * w0 < w * h0 else 'stretched'} (its aspect ratio "
            f"changed; {kept[0]}x{kept[1]} would keep it)")


def suggest_size(size: Pair, max_pixels: int) -> Pair:
    """The largest (H, W) of about the aspect ratio of `size` with H*W <= `max_pixels`."""
    height, width = size
    scale = math.sqrt(max_pixels / (height * width))
    h = max(1, min(height, math.floor(height * scale)))
    w = max(1, min(width, math.floor(width * scale), max_pixels // h))
    h = max(1, min(h, max_pixels // w))
    return h, w


def _shown(image: str) -> str:
    """The file as typed, on one line (a name with control characters is shown quoted)."""
    text = str(image)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def _resolve(image: str) -> Path | None:
    """The path to read; None for a bundled sample only if no such file exists."""
    path = Path(image)
    try:
        exists = path.exists() or path.is_symlink()
    except (OSError, ValueError):  # a name too long, or with a NUL byte
        exists = False
    if exists or image not in SAMPLES:
        return path
    return None


def _read(image: str, shown: str) -> bytes:
    path = _resolve(image)
    if path is None:
        return resources.files("convsheets").joinpath("samples", f"{image}.png").read_bytes()
    try:
        if path.is_dir():
            raise ImageError(f"--image {shown}: is a folder, not an image file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ImageError(f"--image {shown}: no such file, and not a bundled sample "
                         f"({', '.join(SAMPLES)})") from None
    except IsADirectoryError:
        raise ImageError(f"--image {shown}: is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(f"--image {shown}: permission denied") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImageError(f"--image {shown}: cannot be read ({one_line(reason)})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"--image {shown}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; "
                         "use a smaller image")
    if not data:
        raise ImageError(f"--image {shown}: is empty, not an image")
    return data


def _open(image: str, shown: str) -> Image.Image:
    """Identify the picture from its header (size and mode known, pixels not yet decoded)."""
    data = _read(image, shown)
    with _bombs_are_errors():
        try:
            return Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(shown, exc) from None
        except UnidentifiedImageError:
            raise ImageError(f"--image {shown}: not a {FORMATS_TEXT} image that Pillow can read"
                             ) from None
        except Exception as exc:  # untrusted bytes: any failure of a decoder is the file's fault
            raise ImageError(f"--image {shown}: not a readable image ({_reason(exc)})") from None


def _decode(img: Image.Image, shown: str) -> Image.Image:
    with _bombs_are_errors():
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(shown, exc) from None
        except Exception as exc:  # truncated, corrupt, or a decoder giving up on it
            raise ImageError(f"--image {shown}: truncated or damaged {img.format or 'image'} "
                             f"({_reason(exc)})") from None
    return img


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    if img.mode.startswith("I;16"):  # 16-bit grey: keep the picture, not its clipped low end
        wide = np.asarray(img, dtype=np.int64)
        grey = Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8), mode="L")
        if "transparency" in img.info:  # a transparent grey level, compared at 16 bits
            alpha = np.where(wide == img.info["transparency"], 0, 255).astype(np.uint8)
            img = Image.merge("LA", (grey, Image.fromarray(alpha, mode="L")))
        else:
            img = grey
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert(mode)


class _bombs_are_errors(warnings.catch_warnings):
    """Pillow's DecompressionBombWarning (an image above its pixel limit) raised, not warned."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)


def _bomb(shown: str, exc: Exception) -> ImageError:
    return ImageError(f"--image {shown}: decompresses to more pixels than Pillow's safety limit of "
                      f"{Image.MAX_IMAGE_PIXELS} (a decompression bomb?); use a smaller image")


def _reason(exc: Exception) -> str:
    text = one_line(str(exc))
    return text or type(exc).__name__


