"""Tests for convsheets.images: pictures read into integer tensors, and every way a file can fail.

Every test image is made here in tmp_path (nothing is downloaded). The expected tensors are
computed independently in the test: with Pillow's own convert/resize called directly, with the
alpha blend written out in NumPy, and with block means worked out by hand.
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convsheets.errors import ConvsheetsError, ImageError, SpecError
from convsheets.images import SAMPLES, load_image, sample_path, suggest_size

RNG = np.random.default_rng(11)


def _rgb(h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _save(img: Image.Image, path: Path, **kwargs: object) -> str:
    img.save(path, **kwargs)
    return str(path)


def _expected(path: str, mode: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Pillow called directly: open, convert, BOX-resize (W, H), as (C, H, W) int64."""
    with Image.open(path) as img:
        img = img.convert(mode)
        if size is not None:
            img = img.resize((size[1], size[0]), Image.Resampling.BOX)
        array = np.asarray(img).astype(np.int64)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _white_blend(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """colour over opaque white, exactly rounded: c*a + 255*(1-a), a = alpha/255."""
    a = alpha.astype(np.float64) / 255
    return np.round(colour * a + 255 * (1 - a)).astype(np.int64)


# ---------------------------------------------------------------- pixels


def test_grey_png_is_its_pixels(tmp_path: Path) -> None:
    pixels = RNG.integers(0, 256, size=(5, 7), dtype=np.uint8)
    path = _save(Image.fromarray(pixels, mode="L"), tmp_path / "g.png")
    got = load_image(path, 1, None)
    assert got.dtype == np.int64 and got.shape == (1, 5, 7)
    assert np.array_equal(got[0], pixels)
    assert np.array_equal(load_image(path, 1, (5, 7)), got)  # own size: unchanged


def test_rgb_channels_are_r_g_b(tmp_path: Path) -> None:
    pixels = _rgb(4, 6)
    path = _save(Image.fromarray(pixels, mode="RGB"), tmp_path / "c.png")
    got = load_image(path, 3, None)
    assert got.shape == (3, 4, 6)
    for c in range(3):
        assert np.array_equal(got[c], pixels[:, :, c])


@pytest.mark.parametrize("fmt, suffix, extra", [
    ("PNG", "png", {}), ("JPEG", "jpg", {"quality": 90}), ("BMP", "bmp", {}),
    ("GIF", "gif", {}), ("WEBP", "webp", {"lossless": True}),
])
@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
@pytest.mark.parametrize("size", [None, (7, 5), (20, 30)])
def test_every_format_equals_pillow_convert_and_box_resize(
        tmp_path: Path, fmt: str, suffix: str, extra: dict, channels: int, mode: str,
        size: tuple[int, int] | None) -> None:
    path = _save(Image.fromarray(_rgb(13, 17)), tmp_path / f"p.{suffix}", format=fmt, **extra)
    got = load_image(path, channels, size)
    want = _expected(path, mode, size)
    assert got.dtype == np.int64
    assert got.shape == (channels, *(size or (13, 17)))
    assert np.array_equal(got, want)


def test_box_downsampling_is_the_block_mean_width_first(tmp_path: Path) -> None:
    # Pillow resizes in two passes, width then height, rounding to the nearest whole number
    # (halves up) after each pass.
    pixels = np.array([[0, 4, 10, 10],
                       [8, 4, 21, 0],
                       [1, 1, 255, 255],
                       [1, 1, 255, 255]], dtype=np.uint8)
    path = _save(Image.fromarray(pixels, mode="L"), tmp_path / "b.png")
    # width pass: rows become [2, 10], [6, 10.5 -> 11], [1, 255], [1, 255]
    # height pass to 2 rows: (2 + 6) / 2 = 4, (10 + 11) / 2 = 10.5 -> 11, 1, 255
    assert load_image(path, 1, (2, 2)).tolist() == [[[4, 11], [1, 255]]]
    # height pass to 1 row: (2 + 6 + 1 + 1) / 4 = 2.5 -> 3, (10 + 11 + 255 + 255) / 4 = 132.75
    assert load_image(path, 1, (1, 2)).tolist() == [[[3, 133]]]


def test_no_resize_when_the_size_already_matches(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(Image.fromarray(_rgb(3, 4)), tmp_path / "same.png")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resized although the size matched")

    monkeypatch.setattr(Image.Image, "resize", refuse)
    assert load_image(path, 3, (3, 4)).shape == (3, 3, 4)


@pytest.mark.parametrize("channels", [1, 3])
def test_rgba_is_composited_on_white(tmp_path: Path, channels: int) -> None:
    rgba = RNG.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # fully transparent, fully opaque
    path = _save(Image.fromarray(rgba, mode="RGBA"), tmp_path / "a.png")
    blended = _white_blend(rgba[:, :, :3], rgba[:, :, 3:4])  # (H, W, 3)
    assert blended[0, 0].tolist() == [255, 255, 255]
    assert blended[0, 1].tolist() == rgba[0, 1, :3].tolist()
    got = load_image(path, channels, None)
    if channels == 3:
        want = blended.transpose(2, 0, 1)
    else:
        want = np.asarray(Image.fromarray(blended.astype(np.uint8), "RGB").convert("L"))[None]
    assert np.array_equal(got, want)


def test_grey_with_alpha_is_composited_on_white(tmp_path: Path) -> None:
    la = RNG.integers(0, 256, size=(4, 4, 2), dtype=np.uint8)
    path = _save(Image.fromarray(la, mode="LA"), tmp_path / "la.png")
    want = _white_blend(la[:, :, 0], la[:, :, 1])
    assert np.array_equal(load_image(path, 1, None)[0], want)
    assert np.array_equal(load_image(path, 3, None), np.stack([want] * 3))


@pytest.mark.parametrize("suffix", ["png", "gif"])
def test_palette_with_a_transparent_index_shows_white(tmp_path: Path, suffix: str) -> None:
    palette = [10, 20, 30, 200, 0, 0, 0, 150, 0]  # 0: dark blue-grey, 1: red, 2: green
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    img = Image.fromarray(indices, mode="P")
    img.putpalette(palette + [0, 0, 0] * 253)
    path = _save(img, tmp_path / f"p.{suffix}", transparency=1)
    got = load_image(path, 3, None)
    colours = {0: [10, 20, 30], 1: [255, 255, 255], 2: [0, 150, 0]}  # index 1 transparent
    want = np.array([[colours[i] for i in row] for row in indices.tolist()]).transpose(2, 0, 1)
    assert np.array_equal(got, want)
    grey = load_image(path, 1, None)[0]
    assert grey[0, 1] == 255 and grey[1, 1] == 255


def test_grey_with_a_transparent_level_shows_white(tmp_path: Path) -> None:
    pixels = np.array([[0, 50, 100]], dtype=np.uint8)
    path = _save(Image.fromarray(pixels, mode="L"), tmp_path / "t.png", transparency=50)
    assert load_image(path, 1, None).tolist() == [[[0, 255, 100]]]


def test_16_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    pixels = np.array([[0, 256, 257, 32896, 65535]], dtype=np.uint16)
    path = _save(Image.fromarray(pixels), tmp_path / "deep.png")
    assert load_image(path, 1, None).tolist() == [[[0, 1, 1, 128, 255]]]


def test_a_file_wins_over_a_sample_of_the_same_name(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _save(Image.new("L", (3, 2), 7), tmp_path / "digit", format="PNG")
    assert load_image("digit", 1, None).tolist() == [[[7, 7, 7], [7, 7, 7]]]
    (tmp_path / "digit").unlink()
    assert load_image("digit", 1, None).shape == (1, 28, 28)


# ---------------------------------------------------------------- samples

SAMPLE_SHAPES = {"digit": (28, 28, "L"), "drawing": (32, 32, "L"), "scene": (32, 32, "L"),
                 "colour": (24, 24, "RGB")}


def test_samples_are_listed_and_shipped() -> None:
    assert set(SAMPLES) == set(SAMPLE_SHAPES)
    folder = sample_path("digit").parent
    assert folder.name == "samples" and folder.parent.name == "convsheets"
    assert {p.stem for p in folder.glob("*.png")} == set(SAMPLES)
    for name, text in SAMPLES.items():
        assert text and "\n" not in text
        assert sample_path(name).stat().st_size < 4096
    with pytest.raises(ImageError, match="no bundled sample 'nope'"):
        sample_path("nope")


@pytest.mark.parametrize("name", sorted(SAMPLE_SHAPES))
def test_samples_load_with_their_documented_size(name: str) -> None:
    h, w, mode = SAMPLE_SHAPES[name]
    with Image.open(sample_path(name)) as img:
        assert (img.height, img.width, img.mode) == (h, w, mode)
    for channels in (1, 3):
        got = load_image(name, channels, None)
        assert got.shape == (channels, h, w)
        assert np.array_equal(got, _expected(str(sample_path(name)), "L" if channels == 1
                                             else "RGB"))
        assert got.min() >= 0 and got.max() <= 255
    assert load_image(name, 1, (8, 8)).shape == (1, 8, 8)


def test_samples_look_as_described() -> None:
    digit = load_image("digit", 1, None)[0]
    assert digit[0].max() == 0 and digit[:, 0].max() == 0  # black border, like MNIST
    assert digit.max() == 255
    assert len(set(digit.ravel().tolist())) > 10  # anti-aliased: many grey levels
    scene = load_image("scene", 1, None)[0]
    assert len(set(scene[23].tolist()) & set(scene[25].tolist())) == 0  # horizon: rows differ
    assert np.abs(np.diff(scene.astype(int), axis=1)).max() >= 50  # vertical edges
    colour = load_image("colour", 3, None).transpose(1, 2, 0).reshape(-1, 3).tolist()
    for pure in ([255, 0, 0], [0, 255, 0], [0, 0, 255]):
        assert pure in colour


def test_make_samples_redraws_the_committed_pixels_and_is_deterministic() -> None:
    make = importlib.import_module("convsheets.samples.make_samples")
    for name, draw in make.SAMPLES.items():
        first, second = io.BytesIO(), io.BytesIO()
        draw().save(first, format="PNG", compress_level=9)
        draw().save(second, format="PNG", compress_level=9)
        assert first.getvalue() == second.getvalue()
        with Image.open(sample_path(name)) as committed:
            assert committed.mode == draw().mode
            assert np.array_equal(np.asarray(committed), np.asarray(draw()))
            assert not set(committed.info) - {"dpi"}  # no metadata chunks


# ---------------------------------------------------------------- errors


def _one_line_error(image: str, channels: int = 1, size: tuple[int, int] | None = None,
                    **kwargs: object) -> str:
    with pytest.raises(ImageError) as info:
        load_image(image, channels, size, **kwargs)
    text = str(info.value)
    assert isinstance(info.value, ConvsheetsError) and info.value.exit_code == 2
    assert "\n" not in text and "Traceback" not in text
    assert text.startswith(f"--image {image}: ") or text.startswith(f"--image {image!r}: ")
    return text


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text\n")
    assert "not a PNG, JPEG, GIF, BMP or WebP image" in _one_line_error(str(path))


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty" in _one_line_error(str(path))


def test_formats_other_than_the_five_are_refused(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (4, 4)), tmp_path / "pic.tiff", format="TIFF")
    assert "not a PNG, JPEG, GIF, BMP or WebP image" in _one_line_error(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(buffer, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert "truncated or damaged" in _one_line_error(str(path), 3, (8, 8))


@pytest.mark.parametrize("limit", [150, 100])  # 400 pixels: over the limit / over twice it
def test_decompression_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    path = _save(Image.new("L", (20, 20)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    text = _one_line_error(path, 1, (4, 4))
    assert "safety limit" in text and str(limit) in text


def test_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    assert "is a folder" in _one_line_error(str(folder))


def test_a_missing_file(tmp_path: Path) -> None:
    text = _one_line_error(str(tmp_path / "nowhere.png"))
    assert "no such file" in text and "digit" in text  # names the samples as the alternative


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied (simulated: CI runs as root, which reads any file)."""
    path = _save(Image.new("L", (2, 2)), tmp_path / "secret.png")
    real_open = open

    def denied(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    assert "permission denied" in _one_line_error(path)


def test_a_name_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    _one_line_error(str(tmp_path / "two\nlines.png"))


@pytest.mark.parametrize("channels", [0, 2, 4])
def test_wrong_channel_count(tmp_path: Path, channels: int) -> None:
    path = _save(Image.new("RGB", (2, 2)), tmp_path / "ok.png")
    text = _one_line_error(path, channels)
    assert f"--in-channels={channels}" in text
    assert "--in-channels 1" in text and "--in-channels 3" in text


def test_too_large_without_a_size_suggests_one(tmp_path: Path) -> None:
    path = _save(Image.new("L", (300, 200)), tmp_path / "wide.png")  # W=300, H=200
    text = _one_line_error(path, 1, None, max_pixels=1000)
    assert "200x300" in text and "--input-size 25x38" in text  # 25*38 = 950 <= 1000, ~2:3
    assert load_image(path, 1, (25, 38)).shape == (1, 25, 38)  # a given size is not limited
    assert load_image(path, 1, None, max_pixels=60_000).shape == (1, 200, 300)


@pytest.mark.parametrize("size, limit", [
    ((200, 300), 1000), ((1, 10**7), 10**6), ((10**7, 1), 10**6), ((3, 3), 1), ((5000, 7), 100),
])
def test_suggested_sizes_fit_and_keep_the_shape(size: tuple[int, int], limit: int) -> None:
    h, w = suggest_size(size, limit)
    assert 1 <= h <= size[0] and 1 <= w <= size[1] and h * w <= limit
    # the aspect ratio is kept unless a side had to stop at 1 pixel (or at the image's own)
    assert 1 in (h, w) or h == size[0] or w == size[1] or \
        abs(h / w - size[0] / size[1]) <= 0.1 * size[0] / size[1]
    assert (h + 1) * (w + 1) > limit  # and nothing much smaller than needed


def test_a_bad_size_is_a_spec_error(tmp_path: Path) -> None:
    path = _save(Image.new("L", (2, 2)), tmp_path / "s.png")
    with pytest.raises(SpecError) as info:
        load_image(path, 1, (0, 4))
    assert info.value.param == "input_size"
