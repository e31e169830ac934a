"""Train the shipped digit classifier (``convsheets build --template digit_classifier``).

Run from the repository root::

    pip install -e ".[train]"            # torch and scikit-learn
    python tools/train_digit_classifier.py            # prints the accuracies, writes nothing
    python tools/train_digit_classifier.py --write    # also rewrites the shipped weights

The data are scikit-learn's ``load_digits`` (1,797 handwritten digits, 8x8 pixels, each 0..16:
the count of ink pixels in a 4x4 block of a 32x32 bitmap; they ship inside scikit-learn, nothing
is downloaded), split 80/20 by ``train_test_split(random_state=0, stratify=labels)``.

The network is the one the template draws, in PyTorch's own modules::

    conv1 (1->4, 3x3, padding 1) -> ReLU -> MaxPool2d(2) -> conv2 (4->8, 3x3, padding 1)
    -> ReLU -> MaxPool2d(2) -> Flatten -> fc1 (Linear 32 -> 10)

It learns on the raw 0..16 values (no mean, no std), so a workbook's input cells hold the same
integers as the data. Training is deterministic: float64 throughout, one CPU thread,
``torch.use_deterministic_algorithms(True)``, seeded initialisation and a seeded order of
mini-batches; the same PyTorch on the same kind of CPU writes the same bytes (the weights are
stored as float64, so nothing is rounded on the way into the workbook).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "convsheets" / "templates" / "networks" / \
    "digit_classifier.safetensors"
SEED = 0
EPOCHS = 80
BATCH = 32
LEARNING_RATE = 0.005


def model() -> nn.Sequential:
    """The classifier, its module names those of the template's ``weights = ...`` keys."""
    from collections import OrderedDict

    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 4, 3, padding=1)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(4, 8, 3, padding=1)), ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(32, 10)),
    ]))


def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, test x, test y): x float64 (N, 1, 8, 8) in 0..16, y int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float64)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    return (torch.tensor(x_train), torch.tensor(y_train), torch.tensor(x_test),
            torch.tensor(y_test))


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    """(correct, total) of the argmax of the scores."""
    with torch.no_grad():
        return int((net(x).argmax(1) == y).sum()), len(y)


def train() -> nn.Sequential:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    net = model().double()
    x_train, y_train, _, _ = data()
    order = torch.Generator().manual_seed(SEED)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    loss = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(y_train), generator=order).split(BATCH):
            optimiser.zero_grad()
            loss(net(x_train[batch]), y_train[batch]).backward()
            optimiser.step()
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the weights to {OUT}")
    args = parser.parse_args()
    net = train()
    x_train, y_train, x_test, y_test = data()
    for split, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
        right, total = accuracy(net, x, y)
        print(f"{split} accuracy: {right}/{total} = {right / total:.2%}")
    if args.write:
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        save_file(state, str(OUT), metadata={"source": "tools/train_digit_classifier.py"})
        print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
