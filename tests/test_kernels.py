"""Tests for convsheets.kernels: the named kernels and the weights built from them.

The textbook values are written out here (not derived from the module), and the weight layouts
are checked two ways: index by index against the documented formula, and by what PyTorch's
conv2d / conv_transpose2d compute with them (output channel o = its kernel applied to the sum of
the inputs it sees), using the repo's NumPy oracle `convsheets.reference` (checked against
torch.nn.functional in test_reference.py) so that this file stays fast without importing torch.
"""

from __future__ import annotations

import numpy as np
import pytest

from convsheets import reference as ref
from convsheets.errors import ConvsheetsError, SpecError
from convsheets.kernels import (
    KERNEL_NOTES,
    KERNELS,
    describe_kernel,
    kernel_size_of,
    named_weight,
    parse_names,
)

TEXTBOOK = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel-x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel-y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt-x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt-y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}
FRACTIONS = {
    "box-blur": ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9),
    "gaussian-blur": ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 16),
    "gaussian-blur-5x5": ([[1, 4, 6, 4, 1], [4, 16, 24, 16, 4], [6, 24, 36, 24, 6],
                           [4, 16, 24, 16, 4], [1, 4, 6, 4, 1]], 256),
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_integer_kernels_are_the_textbook_ones_as_int64(name: str) -> None:
    kernel = KERNELS[name]
    assert kernel.dtype == np.int64
    assert kernel.tolist() == TEXTBOOK[name]


@pytest.mark.parametrize("name", sorted(FRACTIONS))
def test_blurs_are_exact_fractions_that_sum_to_one(name: str) -> None:
    matrix, divisor = FRACTIONS[name]
    kernel = KERNELS[name]
    assert kernel.dtype == np.float64
    assert kernel.tolist() == [[v / divisor for v in row] for row in matrix]
    assert (kernel * divisor).tolist() == matrix  # exact multiples of 1/divisor
    assert kernel.sum() == pytest.approx(1.0, abs=1e-15)


def test_the_issue_s_kernels_are_all_there_and_described() -> None:
    required = {"identity", "box-blur", "gaussian-blur", "sharpen", "laplacian", "sobel-x",
                "sobel-y", "prewitt-x", "prewitt-y", "emboss", "outline"}
    assert required <= set(KERNELS)
    assert set(KERNEL_NOTES) == set(KERNELS)
    assert all(KERNEL_NOTES[n] and "\n" not in KERNEL_NOTES[n] for n in KERNELS)
    assert all(KERNELS[n].shape == (3, 3) for n in required)


def test_y_kernels_are_the_transposed_x_kernels() -> None:
    assert np.array_equal(KERNELS["sobel-y"], KERNELS["sobel-x"].T)
    assert np.array_equal(KERNELS["prewitt-y"], KERNELS["prewitt-x"].T)


def test_sobel_x_is_positive_where_the_picture_gets_brighter_to_the_right() -> None:
    ramp = np.array([[0, 10, 20, 30]] * 4, dtype=np.float64)[None]
    out = ref.conv2d(ramp, named_weight(["sobel-x"], 1, 1, (3, 3)))
    assert (out == 80).all()  # (1 + 2 + 1) * (20 - 0): cross-correlation, no flip
    assert (ref.conv2d(ramp, named_weight(["sobel-y"], 1, 1, (3, 3))) == 0).all()
    assert (ref.conv2d(ramp.transpose(0, 2, 1), named_weight(["sobel-y"], 1, 1, (3, 3))) == 80
            ).all()


def test_kernels_cannot_be_edited_in_place() -> None:
    with pytest.raises(ValueError):
        KERNELS["sobel-x"][0, 0] = 5


def test_describe_shows_whole_numbers_and_the_divisor() -> None:
    assert describe_kernel("sobel-x") == "[ -1   0   1 ]\n[ -2   0   2 ]\n[ -1   0   1 ]"
    assert describe_kernel("gaussian-blur") == (
        "        [ 1  2  1 ]\n"
        "1/16 ×  [ 2  4  2 ]\n"
        "        [ 1  2  1 ]")
    assert describe_kernel("box-blur").splitlines()[1] == "1/9 ×  [ 1  1  1 ]"
    assert len(describe_kernel("gaussian-blur-5x5").splitlines()) == 5
    for name in KERNELS:
        lines = describe_kernel(name).splitlines()
        assert len(lines) == KERNELS[name].shape[0]
        assert len({len(line) for line in lines}) == 1  # aligned
    with pytest.raises(SpecError, match="unknown kernel"):
        describe_kernel("nope")


def test_names_are_forgiving_about_case_spaces_underscores_and_commas() -> None:
    assert parse_names(" Sobel_X , sobel-y") == ["sobel-x", "sobel-y"]
    assert parse_names(["IDENTITY"]) == ["identity"]
    assert kernel_size_of("sobel-x,sobel-y") == (3, 3)
    assert kernel_size_of(["gaussian-blur-5x5"]) == (5, 5)
    with pytest.raises(SpecError, match="one size"):
        kernel_size_of(["sobel-x", "gaussian-blur-5x5"])


def test_conv2d_layout_groups_1() -> None:
    w = named_weight(["sobel-x", "sobel-y"], 2, 3, (3, 3))
    assert w.shape == (2, 3, 3, 3) and w.dtype == np.int64
    for c in range(3):
        assert w[0, c].tolist() == TEXTBOOK["sobel-x"]
        assert w[1, c].tolist() == TEXTBOOK["sobel-y"]
    w[0, 0, 0, 0] = 99  # a fresh, writable array: the table is untouched
    assert KERNELS["sobel-x"][0, 0] == -1


def test_conv2d_layout_groups_2_has_the_same_shape_rule() -> None:
    names = ["identity", "sobel-x", "laplacian", "box-blur"]
    w = named_weight(names, 4, 2, (3, 3), groups=2)  # C = 4 input channels, 2 per group
    assert w.shape == (4, 2, 3, 3) and w.dtype == np.float64  # box-blur makes it float
    for o, name in enumerate(names):
        for i in range(2):
            assert np.array_equal(w[o, i], KERNELS[name])


def test_one_name_is_used_for_every_output_channel() -> None:
    w = named_weight(["emboss"], 5, 1, (3, 3))
    assert w.shape == (5, 1, 3, 3)
    assert all(w[o, 0].tolist() == TEXTBOOK["emboss"] for o in range(5))
    assert np.array_equal(named_weight("emboss", 5, 1, (3, 3)), w)


@pytest.mark.parametrize("groups", [1, 2])
def test_transposed_layout(groups: int) -> None:
    names = ["identity", "sobel-x", "sobel-y", "laplacian"]
    out_channels, in_per_group = 4, 3
    w = named_weight(names, out_channels, in_per_group, (3, 3), transposed=True, groups=groups)
    per_group = out_channels // groups
    assert w.shape == (in_per_group * groups, per_group, 3, 3)
    assert w.dtype == np.int64
    for c in range(in_per_group * groups):
        for j in range(per_group):
            o = (c // in_per_group) * per_group + j  # the output channel weight[c][j] feeds
            assert w[c, j].tolist() == TEXTBOOK[names[o]], (c, j)


def _group_sum(x: np.ndarray, o: int, out_channels: int, groups: int) -> np.ndarray:
    """The sum of the input channels output channel `o` sees."""
    per_in = x.shape[0] // groups
    g = o // (out_channels // groups)
    return x[g * per_in:(g + 1) * per_in].sum(axis=0)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("groups", [1, 2])
def test_each_output_channel_applies_its_kernel(transposed: bool, groups: int) -> None:
    names = ["sobel-x", "gaussian-blur", "outline", "emboss"]
    in_channels, out_channels = 4, 4
    x = np.random.default_rng(3).integers(0, 256, size=(in_channels, 6, 7)).astype(np.float64)
    w = named_weight(names, out_channels, in_channels // groups, (3, 3), transposed, groups)
    op = ref.conv_transpose2d if transposed else ref.conv2d
    got = op(x, w, groups=groups)
    for o, name in enumerate(names):
        seen = _group_sum(x, o, out_channels, groups)[None]
        alone = op(seen, KERNELS[name][None, None])
        np.testing.assert_allclose(got[o], alone[0], rtol=0, atol=1e-9)


def test_errors_are_spec_errors_about_the_kernel_option() -> None:
    with pytest.raises(SpecError) as info:
        named_weight(["sobel-x", "blurr"], 2, 1, (3, 3))
    assert info.value.param == "kernel"
    assert "unknown kernel 'blurr'" in str(info.value) and "gaussian-blur" in str(info.value)
    assert isinstance(info.value, ConvsheetsError)

    with pytest.raises(SpecError, match="gives 2 kernels for 3 output channels") as info:
        named_weight(["sobel-x", "sobel-y"], 3, 1, (3, 3))
    assert info.value.param == "kernel"

    with pytest.raises(SpecError, match="sobel-x is 3x3 but the kernel size is 5x5") as info:
        named_weight(["sobel-x"], 1, 1, (5, 5))
    assert info.value.param == "kernel"
    with pytest.raises(SpecError, match="gaussian-blur-5x5 is 5x5 but the kernel size is 3x3"):
        named_weight(["identity", "gaussian-blur-5x5"], 2, 1, (3, 3))

    for empty in ("", [], ["sobel-x", " "]):
        with pytest.raises(SpecError, match="one kernel name per output channel"):
            named_weight(empty, 2, 1, (3, 3))

    with pytest.raises(SpecError) as info:
        named_weight(["identity"], 3, 1, (3, 3), transposed=True, groups=2)
    assert info.value.param == "groups"


def test_messages_are_one_line_and_name_the_option() -> None:
    try:
        named_weight(["sobel-x", "nope"], 2, 1, (3, 3))
    except SpecError as exc:
        text = str(exc)
    assert text.startswith('--kernel="sobel-x,nope": ') and "\n" not in text
