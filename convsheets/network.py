"""A workbook's computation: an input volume and a chain of layers, validated once.

`Network` is what a workbook computes, whether it came from a variant preset (one or two layers
with today's block names) or from a template's ``[[layers]]``. Layers are named like PyTorch's
own attribute names (conv1, relu1, ...); each name prefixes every block, tensor and sheet of
its layer, so names never collide and read as the network's structure.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .errors import SpecError
from .ops import OPS, Merge, Op, Shape
from .options import Pair, check_pair, check_positive

if TYPE_CHECKING:
    from .spec import LayerSpec
    from .training import Training

MAX_NAME = 16  # a layer name plus " Upsampled" must fit Excel's 31-character sheet names
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = {"param", "parameter", "bottleneck", "true", "false"}


@dataclass(frozen=True)
class LayerNames:
    """How one layer names its blocks, tensors and sheets.

    A network layer ``conv1`` prefixes everything with ``conv1_`` (sheets ``conv1 Kernels``);
    the unnamed layer of a single-layer variant uses no prefix at all (``weight_0_0``,
    ``output_c0``, sheet ``Kernels``), and separable's two layers keep the names they had
    (``depthwise_weight_0_0``, ``padded_c0``, sheets ``DepthwiseKernels``, ...)."""

    tensor: str = ""  # weight / bias: "", "depthwise_", "conv1_"
    output: str = ""  # output blocks: "", "depthwise_", "conv1_"
    stage: str = ""  # intermediate blocks (padded, upsampled, flipped, dilated)
    sheet: str = ""  # sheet names: "", "conv1 "
    sheets: tuple[tuple[str, str], ...] = ()  # role -> sheet name, overriding the prefix
    aliases: tuple[str, ...] = ()  # extra output prefixes: the last layer is also "output_"

    @classmethod
    def of(cls, name: str, last: bool) -> LayerNames:
        prefix = name + "_"
        return cls(prefix, prefix, prefix, name + " ", aliases=("",) if last else ())

    def sheet_name(self, role: str) -> str:
        return dict(self.sheets).get(role, self.sheet + role)

    def output_c(self, o: int) -> str:
        return f"{self.output}output_c{o}"

    def intermediate(self, kind: str, c: int) -> str:
        """Per-channel intermediate blocks: padded_c0, conv1_upsampled_c2."""
        return f"{self.stage}{kind}_c{c}"

    def transformed(self, kind: str, kernel: str) -> str:
        """A kernel transform's block: dilated_weight_0_0, conv1_flipped_weight_0_0."""
        local = kernel[len(self.stage):] if kernel.startswith(self.stage) else kernel
        return f"{self.stage}{kind}_{local}"


@dataclass(frozen=True)
class Layer:
    """One op at its place in the chain."""

    name: str | None  # None: the unnamed layer of a single-layer variant
    op: Op
    in_shape: Shape
    names: LayerNames
    flat_input: bool = False  # its input is a vector of features (after a flatten)
    # The layers it reads, by label ("input": the network's input); empty: the layer before
    # it (the network input for the first), so a chain needs none and records none.
    inputs: tuple[str, ...] = ()
    in_shapes: tuple[Shape, ...] = ()  # a merge's (add, cat) input shapes, in `inputs` order

    @property
    def out_shape(self) -> Shape:
        if self.in_shapes:
            return self.op.merged_shape(self.in_shapes)  # type: ignore[attr-defined]
        return self.op.output_shape(self.in_shape)

    @property
    def flat(self) -> bool:
        """Its output is a vector of features, one row of cells: ``{name}_output``."""
        return self.op.flattens or (self.flat_input and self.op.vector_ok)

    def output_name(self, o: int) -> str:
        """The block of output channel `o` (a vector's one row: ``fc1_output``)."""
        return f"{self.names.output}output" if self.flat else self.names.output_c(o)

    def output_aliases(self, o: int) -> tuple[str, ...]:
        """Its further names: the last layer's output is also ``output_c{o}`` (``output``)."""
        return tuple(f"{a}output" if self.flat else f"{a}output_c{o}"
                     for a in self.names.aliases)

    @property
    def label(self) -> str:
        return self.name or self.op.op

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """The layer's editable tensors by their full names (conv1_weight, weight, ...)."""
        return {self.names.tensor + local: shape
                for local, shape in self.op.tensor_shapes().items()}

    def describe(self, sequence: bool = False) -> str:
        """As PyTorch prints the module, and its output shape ((C, L) in a sequence)."""
        c, h, w = self.out_shape
        reads = f" (reads {', '.join(self.inputs)})" if self.inputs else ""
        return f"{self.op}{reads} -> ({c}, {w})" if sequence else \
            f"{self.op}{reads} -> ({c}, {h}, {w})"


@dataclass(frozen=True)
class Network:
    """The input volume and the chain of layers a workbook computes."""

    input_size: Pair
    in_channels: int
    layers: tuple[Layer, ...]
    seed: int = 0
    values: str = "integers"
    variant: str | None = None  # the preset it was made from (single-layer workbooks)
    # Tensors given by the template (network input, weights); the rest are seeded.
    given: dict[str, np.ndarray] = field(default_factory=dict, compare=False, hash=False)
    # Where given tensors came from, for the guide: tensor name -> e.g. "--weights m.safetensors"
    origins: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # Class names for the Prediction block (template key labels), one per class score.
    labels: tuple[str, ...] = field(default=(), compare=False, hash=False)
    # A variant's network keeps the flat request it was made from (`--variant NAME` and its
    # options): the preset facts its guide page, its metadata record and verify's probe use.
    request: LayerSpec | None = field(default=None, compare=False, hash=False, repr=False)
    # --backward: the loss and learning rate of the backward pass and update step it shows
    training: Training | None = None

    @property
    def input_shape(self) -> Shape:
        return (self.in_channels, *self.input_size)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape

    def sources(self, index: int) -> tuple[str, ...]:
        """The labels of what layer `index` reads: its `inputs`, or the layer before it
        ("input": the network input)."""
        layer = self.layers[index]
        if layer.inputs:
            return layer.inputs
        return (self.layers[index - 1].label,) if index else ("input",)

    @property
    def is_chain(self) -> bool:
        """Every layer reads the one before it (what every network was before graphs)."""
        return all(self.sources(i) == ((self.layers[i - 1].label,) if i else ("input",))
                   for i in range(len(self.layers)))

    @property
    def sequence(self) -> bool:
        """A network of 1-D ops: its tensors are (C, L), held as (C, 1, L)."""
        return any(layer.op.dims == 1 for layer in self.layers)

    @property
    def is_network(self) -> bool:
        """A chain of named layers (not one of the seven variants)."""
        return self.variant is None

    def source_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every editable tensor by name: the input, then each layer's weights and biases."""
        shapes: dict[str, tuple[int, ...]] = {"input": self.input_shape}
        for layer in self.layers:
            shapes.update(layer.tensor_shapes())
        if self.training is not None and self.training.loss == "cross_entropy":
            shapes["target_class"] = (1,)  # one whole number: the class
        elif self.training is not None:  # the loss's target, shaped like the output
            shapes["target"] = self.output_shape
        return shapes

    def check_backward(self) -> None:
        """Every layer must have a gradient rule (its op's `backward`), and the output must
        suit the loss: mse an image, cross_entropy a vector of two or more class scores. A
        graph is fine: where a tensor is read by several layers its gradient is drawn as the
        sum of theirs (`backprop.draw_backward`)."""
        for layer in self.layers:
            if not layer.op.differentiable:
                able = [name for name, cls in OPS.items() if cls.differentiable]
                raise SpecError("backward", True, f"layer {layer.label} ({layer.op.op}) has no "
                                f"gradient sheets yet ({', '.join(able[:-1])} and {able[-1]} "
                                "do)")
            for option, plain in (("padding_mode", "zeros"), ("ceil_mode", False)):
                value = getattr(layer.op, option, plain)
                if value != plain:
                    raise SpecError("backward", True, f"layer {layer.label} has {option}="
                                    f"{value!r}; its gradient sheets are drawn only for "
                                    f"{option}={plain!r} (PyTorch's default)")
        assert self.training is not None
        if self.training.loss == "mse" and self.layers[-1].flat:
            raise SpecError("loss", "mse", "needs an image output (channels x height x width); "
                            "for a vector of class scores use loss = \"cross_entropy\" "
                            "(--loss cross_entropy)")
        if self.training.loss == "cross_entropy" and (
                not self.layers[-1].flat or self.output_shape[-1] < 2):
            raise SpecError("loss", "cross_entropy", "needs class scores: a network whose "
                            "output is a vector of two or more (ending in linear or flatten)")

    def parameter_count(self) -> int:
        return sum(layer.op.parameter_count() for layer in self.layers)

    @property
    def kind(self) -> str:
        """How reports name it: the variant, or "network"."""
        return self.request.variant if self.request is not None else "network"

    def with_seed(self, seed: int) -> Network:
        """The same network (or variant request) with another seed (a roster student's)."""
        if self.request is not None:
            network = dataclasses.replace(self.request, seed=seed).network()
            return dataclasses.replace(network, training=self.training)
        return dataclasses.replace(self, seed=seed)

    def record(self) -> dict[str, object]:
        """What a workbook records of it: a variant's flat request ("layer", format 1, as
        the first release wrote it) or the network's layers ("network", format 2)."""
        training = {"backward": self.training.record()} if self.training is not None else {}
        if self.request is not None:
            return {"format": 1, "layer": self.request.as_options(), **training}
        return {"format": 2, "network": self.as_options(), **training}

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Network:
        """Inverse of `record`, validating everything again (the file is untrusted)."""
        from .spec import LayerSpec
        from .training import Training

        if "layer" in record:
            network = LayerSpec.from_options(record["layer"]).network()  # type: ignore[arg-type]
        else:
            network = cls.from_options(record.get("network"))
        if record.get("backward") is None:
            return network
        network = dataclasses.replace(network,
                                      training=Training.from_record(record["backward"]))
        network.check_backward()
        return network

    def with_input_size(self, size: Pair) -> Network:
        """The same layers on an input of another size (validated again)."""
        entries = [(layer.name, layer.op.op,
                    {k: v for k, v in layer.op.as_options().items() if k != "op"}, layer.names)
                   for layer in self.layers]
        layers = chain((self.in_channels, *size), entries, [""] * len(entries),
                       [layer.inputs for layer in self.layers])
        return Network(size, self.in_channels, layers, self.seed, self.values, self.variant)

    def as_options(self) -> dict[str, object]:
        """JSON-ready (recorded in every workbook; `from_options` reads it back)."""
        return {"input_size": list(self.input_size), "in_channels": self.in_channels,
                "seed": self.seed, "values": self.values, "variant": self.variant,
                "layers": [{"name": layer.name, **layer.op.as_options(),
                            "names": _names_record(layer.names),
                            **({"inputs": list(layer.inputs)} if layer.inputs else {})}
                           for layer in self.layers]}

    @classmethod
    def from_options(cls, record: object) -> Network:
        """Inverse of `as_options`, validating everything again (the file is untrusted)."""
        if not isinstance(record, dict) or not isinstance(record.get("layers"), list):
            raise SpecError("network", record, "must be a mapping with a list of layers")
        size, channels = record.get("input_size"), record.get("in_channels")
        values = {"input_size": size, "in_channels": channels}
        start = start_shape(values)
        entries: list[tuple[str | None, str, dict[str, object], LayerNames]] = []
        inputs: list[tuple[str, ...]] = []
        for i, entry in enumerate(record["layers"]):
            if not isinstance(entry, dict):
                raise SpecError(f"layers[{i}]", entry, "must be a mapping")
            # recorded options are complete: pairs come back as lists
            options = {k: v for k, v in entry.items()
                       if k not in ("op", "name", "names", "inputs")}
            op_cls = OPS.get(str(entry.get("op")))
            if op_cls is None:
                raise SpecError(f"layers[{i}].op", entry.get("op"), "is not a known op")
            names = _names_from_record(entry.get("names"))
            name = entry.get("name")
            if name is not None and not isinstance(name, str):
                raise SpecError(f"layers[{i}].name", name, "must be text")
            given = entry.get("inputs", [])
            if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
                raise SpecError(f"layers[{i}].inputs", given, "must be a list of layer names")
            entries.append((name, op_cls.op, options, names))
            inputs.append(tuple(given))
        layers = list(chain(start, entries, [""] * len(entries), inputs))
        if not layers:
            raise SpecError("layers", [], "a network needs at least one layer")
        variant = record.get("variant")
        seed, kind = record.get("seed", 0), record.get("values", "integers")
        return cls(start[1:], start[0], tuple(layers), seed=int(seed),  # type: ignore[call-overload]
                   values=str(kind), variant=str(variant) if variant else None)


def start_shape(values: dict[str, object]) -> Shape:
    """The validated input shape (C, H, W) from input_size and in_channels."""
    from .options import to_int, to_pair

    if values.get("input_size") is None:
        raise SpecError("input_size", None, "is required (set it in the template or option)")
    if values.get("in_channels") is None:
        raise SpecError("in_channels", None, "is required (set it in the template or option)")
    size = to_pair("input_size", values["input_size"])
    channels = to_int("in_channels", values["in_channels"])
    check_pair("input_size", size, minimum=1)
    check_positive("in_channels", channels)
    return (channels, *size)


def chain(input_shape: Shape, entries: list[tuple[str | None, str, dict[str, object], LayerNames]],
          where: list[str], inputs: list[tuple[str, ...]] | None = None) -> tuple[Layer, ...]:
    """Validate each (name, op, options, names) against its input shape, in order. `where[i]`
    names the layer in messages (empty: a command-line option). `inputs[i]`: the labels layer
    i reads, each an earlier layer or "input" (empty: the layer before it), so the layers,
    in this order, are a graph's topological order (`topological_order`)."""
    layers: list[Layer] = []
    shape = input_shape
    produced: dict[str, Layer | None] = {"input": None}  # label -> layer (None: the input)
    for i, ((name, op_name, options, names), place) in enumerate(zip(entries, where,
                                                                    strict=True)):
        op_cls = OPS[op_name]
        given = tuple(inputs[i]) if inputs is not None else ()
        try:
            if not given:
                op = _single(op_cls, options, shape, layers[-1:])
                layers.append(Layer(name, op, shape, names, bool(layers) and layers[-1].flat))
            else:
                sources = _sources(given, produced, name or op_cls.op)
                layers.append(_reading(name, op_cls, options, names, given, sources,
                                       input_shape))
        except SpecError as exc:
            raise (exc.located(place) if place else exc) from None
        produced[layers[-1].label] = layers[-1]
        shape = layers[-1].out_shape
    return tuple(layers)


def _single(op_cls: type[Op], options: dict[str, object], shape: Shape,
            before: list[Layer]) -> Op:
    if issubclass(op_cls, Merge):
        raise SpecError("inputs", None, f"{op_cls.op} reads several layers: name them, e.g. "
                        'inputs = ["conv2", "input"]')
    check_follows(before, op_cls)
    return op_cls.create(options, shape).placed(shape, bool(before) and before[-1].flat)


def _sources(given: tuple[str, ...], produced: dict[str, Layer | None],
             label: str) -> list[Layer | None]:
    """The layers `given` names (None: the network input), each an earlier one."""
    found = []
    for source in given:
        if source not in produced:
            known = ", ".join(k for k in produced if k != "input")
            raise SpecError("inputs", list(given), f"{source!r} names no earlier layer of "
                            f"{label} (earlier: {known or 'none'}; \"input\" is the network "
                            "input)")
        found.append(produced[source])
    return found


def _reading(name: str | None, op_cls: type[Op], options: dict[str, object],
             names: LayerNames, given: tuple[str, ...], sources: list[Layer | None],
             input_shape: Shape) -> Layer:
    """A layer that names its inputs: one for a single-input op, several for a merge."""
    shapes = [s.out_shape if s is not None else input_shape for s in sources]
    flats = [s is not None and s.flat for s in sources]
    if not issubclass(op_cls, Merge):
        if len(given) != 1:
            raise SpecError("inputs", list(given), f"{op_cls.op} reads one input (only add, "
                            "mul and cat read several)")
        op = _single(op_cls, options, shapes[0], [s for s in sources if s is not None])
        return Layer(name, op, shapes[0], names, flats[0], inputs=given)
    op = op_cls.create(options, shapes[0])
    op.check_inputs(shapes, given, flats)  # type: ignore[attr-defined]
    return Layer(name, op, shapes[0], names, all(flats), inputs=given,
                 in_shapes=tuple(shapes))


def topological_order(labels: list[str], inputs: list[tuple[str, ...]]) -> list[int]:
    """The layers' indices in an order where each comes after every layer it reads (file order
    where the file allows it). Raises SpecError naming the layers of a cycle, or a layer that
    reads a name no layer has, or a layer whose output nothing reads (only the last may)."""
    index = {label: i for i, label in enumerate(labels)}
    for i, given in enumerate(inputs):
        for source in given:
            if source != "input" and source not in index:
                raise SpecError("inputs", list(given), f"layer {labels[i]} reads {source!r}, "
                                "which names no layer (\"input\" is the network input)")
    needs = [{index[s] for s in given if s != "input"} for given in inputs]
    done: list[int] = []
    left = set(range(len(labels)))
    while left:
        ready = [i for i in sorted(left) if not needs[i] - set(done)]
        if not ready:
            raise SpecError("inputs", None, "the layers form a cycle: "
                            + " → ".join(_cycle(labels, needs, left))
                            + " (a network must be a DAG: each layer reads earlier ones)")
        done.append(ready[0])
        left.remove(ready[0])
    read = {s for given in inputs for s in given}
    unread = [labels[i] for i in done[:-1] if labels[i] not in read]
    if unread:
        raise SpecError("inputs", None, f"the output of {', '.join(unread)} is read by no "
                        f"layer; only the network's output ({labels[done[-1]]}) may be unread")
    return done


def _cycle(labels: list[str], needs: list[set[int]], left: set[int]) -> list[str]:
    """One cycle among the layers `left` (each still needs another of them), as labels."""
    node = min(left)
    path: list[int] = []
    while node not in path:
        path.append(node)
        node = min(needs[node] & left)
    cycle = path[path.index(node):] + [node]
    return [labels[i] for i in reversed(cycle)]


def check_follows(layers: list[Layer], op_cls: type[Op]) -> None:
    """A layer after a flatten (or a linear) reads a vector of features: only ops that mean
    something on one (element-wise ops, linear, dropout) may follow."""
    if layers and layers[-1].flat and not op_cls.vector_ok:
        before = layers[-1]
        raise SpecError("op", op_cls.op, f"cannot follow {before.label} ({before.op.op}), whose "
                        f"output is a vector of {before.out_shape[2]} features, not an image "
                        "(only element-wise ops, dropout, identity and linear read vectors)")
    kinds = {layer.op.dims for layer in layers if not layer.flat} - {0}
    if op_cls.dims and kinds and op_cls.dims not in kinds:
        raise SpecError("op", op_cls.op, "is a 2-D op but the network is a sequence (C x L: "
                        "use conv1d, max_pool1d, ...)" if op_cls.dims == 2 else
                        "is a 1-D op but the network is an image (C x H x W: use conv2d, ...)")


def check_layer_name(name: object, where: str) -> str:
    """A letter, then letters, digits or underscores. A layer's name is only ever a prefix
    (``c1_weight_0_0``, sheet ``'c1 Output'``, always quoted in references), never a whole
    defined name, so a name that reads as a cell reference (c1, fc1, R1C1) is fine; the
    format forbids only a *whole* name that is one."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError("name", name, "must start with a letter and hold only letters, digits "
                        "and underscores", where)
    if len(name) > MAX_NAME:
        raise SpecError("name", name, f"must be at most {MAX_NAME} characters (it names "
                        "sheets, whose names Excel limits to 31)", where)
    if name.lower() in _RESERVED:
        raise SpecError("name", name, "is a reserved word in Excel; choose another (e.g. "
                        "conv1)", where)
    return name


def _names_record(names: LayerNames) -> dict[str, object]:
    return {"tensor": names.tensor, "output": names.output, "stage": names.stage,
            "sheet": names.sheet, "sheets": [list(p) for p in names.sheets],
            "aliases": list(names.aliases)}


def _names_from_record(record: object) -> LayerNames:
    if not isinstance(record, dict):
        raise SpecError("names", record, "must be a mapping")
    try:
        return LayerNames(str(record["tensor"]), str(record["output"]), str(record["stage"]),
                          str(record["sheet"]),
                          tuple((str(a), str(b)) for a, b in record["sheets"]),
                          tuple(str(a) for a in record["aliases"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError("names", record, "is malformed") from exc
