"""The Prediction block: a network that ends in class scores (a linear layer with two or more
outputs) gets, on its guide, the softmax of the scores and the predicted class, live.

Softmax is written as a column of EXP cells (each score minus the largest, so EXP never
overflows: the same probabilities) and one SUM cell, then each probability as its EXP over the
SUM; the one-cell ``SUMPRODUCT(EXP(range))`` is an array formula that Gnumeric silently
evaluates wrong, so it is not used. The predicted class is ``MATCH(MAX(scores), scores, 0) - 1``
(0-based, the first of equal scores: what ``argmax`` gives). Named ``probabilities`` and
``predicted_class``; their expected values come from the network's reference. The
probabilities carry a data bar from 0 (empty) to 1 (full); a template's ``labels`` (one text
per class) are shown in a column after the probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .layout import COMPUTED, GUIDE, Block, Label, Meaning
from .stages import PerCell

if TYPE_CHECKING:
    from .guide import GuideWriter
    from .network import Layer
    from .plan import Plan

KIND = "prediction"
NAMES = ("prediction_exp", "prediction_sum", "probabilities", "predicted_class")


def ends_in_scores(plan: Plan, layer: Layer) -> bool:
    """`layer` is the network's last, a linear layer giving two or more class scores."""
    return (layer is plan.network.layers[-1] and layer.op.op == "linear"
            and layer.out_shape[2] >= 2)


def add_prediction(plan: Plan, layer: Layer, scores: Block) -> None:
    """Register the Prediction block for the guide (drawn after the layers' steps)."""
    labels = plan.network.labels
    plan.guide_parts.append(lambda cur: _draw(cur, layer, scores, labels))


def _block(name: str, shape: tuple[int, int], make, label: str) -> Block:  # type: ignore[no-untyped-def]
    return Block(name, shape, COMPUTED, PerCell(make), colour_scale=False, style="cs_count",
                 meaning=Meaning(GUIDE, label, KIND, name))


def _draw(cur: GuideWriter, layer: Layer, scores: Block, labels: tuple[str, ...] = ()) -> None:
    n = scores.shape[1]
    here = cur.sheet.name
    every = scores.area(from_sheet=here)
    cur.gap()
    cur.text("Prediction", "cs_title")
    cur.text(f"The {n} outputs of {layer.label} are class scores (logits). Softmax turns them "
             "into probabilities: EXP of each score minus the largest (the same probabilities, "
             "and EXP never overflows), divided by the SUM of those. The predicted class is the "
             f"one with the largest score: MATCH(MAX(scores), scores, 0) - 1 (0-based, as "
             "argmax). Edit the input and watch the prediction change.")
    top = cur.row + 1
    first = 3  # the score column
    heads = ((2, "class"), (first, "score"), (first + 1, "EXP(s - max)"),
             (first + 2, "probability"), *(((first + 3, "label"),) if labels else ()))
    for col, text in heads:
        cur.label(col, text, "cs_title")
    for col in (first + 1, first + 2):  # room for the headers and the bars
        cur.sheet.widths[col] = max(cur.sheet.col_width(col), 12.0)
    cur.row += 1
    score_copy = _block("prediction_scores", (n, 1),
                        lambda h, i, _j: scores.ref(0, i, from_sheet=h), layer.label)
    exp = _block("prediction_exp", (n, 1),
                 lambda h, i, _j: f"EXP({scores.ref(0, i, from_sheet=h)}-MAX({every}))",
                 layer.label)
    for k in range(n):
        cur.sheet.labels.append(Label(cur.row + k, 2, k, "cs_label"))
        if labels:
            cur.sheet.labels.append(Label(cur.row + k, first + 3, labels[k], "cs_label"))
    cur.place(score_copy, first)
    cur.place(exp, first + 1)
    total = _block("prediction_sum", (1, 1),
                   lambda h, _i, _j: f"SUM({exp.area(from_sheet=h)})", layer.label)
    probabilities = _block("probabilities", (n, 1), lambda h, i, _j: (
        f"{exp.ref(i, 0, from_sheet=h)}/{total.ref(0, 0, absolute=True, from_sheet=h)}"),
        layer.label)
    probabilities.data_bar = True
    cur.place(probabilities, first + 2)
    cur.row = top + n
    cur.label(first, "sum", "cs_label")
    cur.place(total, first + 1)
    cur.row += 1
    predicted = _block("predicted_class", (1, 1),
                       lambda h, _i, _j: f"MATCH(MAX({every}),{every},0)-1", layer.label)
    cur.label(2, "predicted class", "cs_title")
    cur.place(predicted, 3)
    cur.label(4, "(named predicted_class; the probabilities are named probabilities; each "
              "bar runs from 0 to 1)", "cs_note")
    cur.row += 1


def prediction_values(scores: np.ndarray) -> dict[str, np.ndarray]:
    """Expected values of the Prediction blocks from the reference's class scores."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    e = np.exp(s - s.max())
    return {"prediction_scores": s.reshape(-1, 1), "prediction_exp": e.reshape(-1, 1),
            "prediction_sum": np.array([[e.sum()]]),
            "probabilities": (e / e.sum()).reshape(-1, 1),
            "predicted_class": np.array([[float(np.argmax(s))]])}
