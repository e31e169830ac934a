"""Property-based sweep: random valid layers of every variant, built and verified in batches by
every installed spreadsheet application (LibreOffice, Gnumeric and IronCalc in CI).

Both sweeps are long: marked slow (`python -m pytest -m slow`, which CI runs after the default
suite)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from convsheets.build import make_plan, write_atomically
from convsheets.errors import ConvsheetsError
from convsheets.presets import preset
from convsheets.spec import LayerSpec
from convsheets.variants import VARIANTS

pytestmark = pytest.mark.slow

BATCH = 21  # layers per spreadsheet-application start


@st.composite
def layers(draw: st.DrawFn) -> LayerSpec:
    variant = draw(st.sampled_from(list(VARIANTS)))
    pair = st.tuples
    k = draw(pair(st.integers(1, 4), st.integers(1, 4)))
    d = draw(pair(st.integers(1, 3), st.integers(1, 3)))
    p = draw(pair(st.integers(0, 2), st.integers(0, 2)))
    s = draw(pair(st.integers(1, 3), st.integers(1, 3)))
    groups = draw(st.sampled_from([1, 2]))
    given_ = {
        "kernel_size": k, "dilation": d, "padding": p, "stride": s, "groups": groups,
        "in_channels": groups * draw(st.integers(1, 2)),
        "out_channels": groups * draw(st.integers(1, 2)),
        "depth_multiplier": draw(st.integers(1, 2)),
        "output_padding": (draw(st.integers(0, max(s[0], d[0]) - 1)),
                           draw(st.integers(0, max(s[1], d[1]) - 1))),
        "bias": draw(st.booleans()),
        "values": draw(st.sampled_from(["integers", "normal"])),
        "seed": draw(st.integers(0, 10_000)),
    }
    if variant != "transposed":  # make the (dilated) kernel fit the padded input
        given_["input_size"] = tuple(
            max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]) + draw(st.integers(0, 4)) for a in (0, 1))
    else:
        given_["input_size"] = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    honoured = {key: v for key, v in given_.items() if key in VARIANTS[variant].honoured}
    try:
        return LayerSpec.create(variant, honoured, preset(variant))
    except ConvsheetsError:
        # an invalid draw (e.g. output_padding with this stride) becomes the variant's preset
        # with the drawn seed and values, so long lists of layers never fail to generate
        return LayerSpec.create(variant, {"seed": given_["seed"], "values": given_["values"]},
                                preset(variant))


# Reproducible (same layers on every CI run) and no shrinking: each step would restart the
# spreadsheet applications; the assertion message lists every failing layer instead.
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.lists(layers(), min_size=BATCH, max_size=BATCH))
def test_random_layers_verify_in_every_engine(specs: list[LayerSpec]) -> None:
    from convsheets.verify import verify_files

    with tempfile.TemporaryDirectory(prefix="convsheets-sweep-") as tmp:
        paths = []
        for n, spec in enumerate(specs):
            path = Path(tmp) / f"{n:02d}-{spec.variant}.xlsx"
            write_atomically(make_plan(spec.network()), path)
            paths.append(path)
        reports = verify_files(paths, engine="all")
    failures = []
    for spec, report in zip(specs, reports, strict=True):
        engines = sorted(run.engine for run in report.runs)
        if engines != ["gnumeric", "ironcalc", "libreoffice"]:
            failures.append((spec, f"engines that ran: {engines}; {report.unusable}"))
        for run in report.runs:
            bad = [(b.name, b.problem) for b in run.blocks if not b.ok]
            if bad:
                failures.append((spec, run.engine, bad[:3]))
    assert not failures, failures


IRONCALC_LAYERS = 30  # per example; 5 examples: IronCalc checks 150 layers in seconds


@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much, HealthCheck.large_base_example])
@given(st.lists(layers(), min_size=IRONCALC_LAYERS, max_size=IRONCALC_LAYERS))
def test_many_random_layers_verify_in_ironcalc(specs: list[LayerSpec]) -> None:
    from convsheets.verify import verify_files

    with tempfile.TemporaryDirectory(prefix="convsheets-sweep-ic-") as tmp:
        paths = []
        for n, spec in enumerate(specs):
            paths.append(Path(tmp) / f"{n:03d}-{spec.variant}.xlsx")
            write_atomically(make_plan(spec.network()), paths[-1])
        reports = verify_files(paths, engine="ironcalc")
    failures = [(spec, report.unusable, [(b.name, b.problem) for run in report.runs
                                         for b in run.blocks if not b.ok][:3])
                for spec, report in zip(specs, reports, strict=True)
                if not report.ok or [r.engine for r in report.runs] != ["ironcalc"]
                or not report.runs[0].probed]
    assert not failures, failures
