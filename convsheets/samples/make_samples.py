"""Draw the bundled sample images (`convsheets samples`) with Pillow alone and save them here.

Run from anywhere: ``python convsheets/samples/make_samples.py``. Nothing is downloaded: every
picture is drawn below from coordinates, so the samples are ours to ship and easy to re-make.

Deterministic: the drawing uses no randomness and the PNGs are written without metadata chunks
(no time, no text, no gamma), so a rerun with the same Pillow and zlib writes the same bytes.
A different zlib may compress differently; the pixels stay the same.

- ``digit.png``: a handwritten-style 3, 28x28 grey (mode L), white on black like MNIST, the
  digit inside the central 20x20 box; drawn 8x larger with round-capped strokes, then reduced
  with a box filter, which gives the soft, anti-aliased edges of a scanned pen stroke.
- ``drawing.png``: a handwritten-style 2, 32x32 grey (mode L), black ink on white paper as a
  user draws it in a paint program; the same pen and reduction as the digit. 32x32 is the size
  of the bitmaps scikit-learn's 8x8 digits were counted from (4x4 blocks), the default input of
  the shipped ``digit_classifier``.
- ``scene.png``: a house on a horizon, 32x32 grey (mode L): light sky, dark ground, a wall with
  a window (with a cross bar) and a door, a dark roof and a sun; hard-edged (no smoothing),
  so horizontal and vertical edge detectors give crisp lines.
- ``colour.png``: three overlapping discs, 24x24 RGB: red, green and blue light on black, so the
  overlaps are yellow, cyan, magenta and white and each of the R, G, B channels is one disc.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
_SCALE = 8  # the digit is drawn this many times larger, then box-reduced


def digit() -> Image.Image:
    """A slightly slanted, uneven "3" with a pen width of about 2.5 pixels at 28x28."""
    s = _SCALE
    big = Image.new("L", (28 * s, 28 * s), 0)
    draw = ImageDraw.Draw(big)
    width = round(2.6 * s)

    def pt(x: float, y: float) -> tuple[int, int]:
        return round(x * s), round(y * s)

    def stroke(points: list[tuple[float, float]]) -> None:
        pts = [pt(x, y) for x, y in points]
        draw.line(pts, fill=255, width=width, joint="curve")
        r = width // 2  # round caps at both ends
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)

    # Upper bowl: from the top left, over the top, down to the waist (a hand-placed polyline,
    # dense enough to read as a curve after the reduction).
    stroke([(8.5, 8.0), (10.0, 6.3), (12.5, 5.2), (15.5, 5.0), (18.0, 5.8), (19.4, 7.4),
            (19.6, 9.4), (18.6, 11.3), (16.6, 12.9), (14.2, 13.8), (12.4, 14.1)])
    # Lower bowl: from the waist, round the right side, down and back to the bottom left.
    stroke([(12.4, 14.1), (15.4, 14.3), (18.2, 15.4), (19.9, 17.3), (20.2, 19.6),
            (19.2, 21.6), (17.2, 23.0), (14.4, 23.7), (11.4, 23.5), (8.9, 22.4), (7.4, 20.9)])
    return big.resize((28, 28), Image.Resampling.BOX)


def drawing() -> Image.Image:
    """A "2" in black ink on white, pen about 3 pixels wide at 32x32."""
    s = _SCALE
    big = Image.new("L", (32 * s, 32 * s), 255)
    draw = ImageDraw.Draw(big)
    width = round(3.2 * s)
    pts = [(round(x * s), round(y * s)) for x, y in (
        (8.5, 10.0), (10.5, 6.8), (14.0, 5.0), (18.0, 5.0), (21.5, 6.8), (23.0, 10.0),
        (22.2, 13.6), (19.5, 17.0), (15.5, 20.6), (11.5, 24.0), (8.5, 26.5), (13.0, 26.6),
        (18.0, 26.4), (24.0, 26.2))]
    draw.line(pts, fill=0, width=width, joint="curve")
    r = width // 2
    for x, y in (pts[0], pts[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return big.resize((32, 32), Image.Resampling.BOX)


def scene() -> Image.Image:
    img = Image.new("L", (32, 32), 215)  # sky
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 24, 31, 31), fill=70)  # ground below the horizon (row 24)
    draw.ellipse((24, 2, 29, 7), fill=250)  # sun
    draw.rectangle((6, 13, 21, 23), fill=150)  # wall
    draw.polygon([(4, 13), (13, 5), (14, 5), (23, 13)], fill=45)  # roof
    draw.rectangle((9, 16, 14, 20), fill=25)  # window
    draw.line((11, 16, 11, 20), fill=150)  # window bars
    draw.line((9, 18, 14, 18), fill=150)
    draw.rectangle((17, 16, 19, 23), fill=95)  # door
    return img


def colour() -> Image.Image:
    size = 24
    discs = {  # channel: disc bounding box (x0, y0, x1, y1), inclusive
        "R": (2, 2, 15, 15),
        "G": (8, 2, 21, 15),
        "B": (5, 8, 18, 21),
    }
    bands = []
    for box in discs.values():
        band = Image.new("L", (size, size), 0)
        ImageDraw.Draw(band).ellipse(box, fill=255)
        bands.append(band)
    return Image.merge("RGB", bands)


SAMPLES = {"digit": digit, "drawing": drawing, "scene": scene, "colour": colour}


def main() -> None:
    for name, draw in SAMPLES.items():
        path = HERE / f"{name}.png"
        draw().save(path, format="PNG", optimize=False, compress_level=9)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
