"""PyTorch definitions of every bnzoo architecture, with the Go zoo's state-dict names and shapes.

A model is built from a config dict shaped like zoo.Config (the JSON in a bnzoo safetensors file's "bnzoo.config"
metadata)::

    {"arch": "resnet20", "classes": 10, "input_shape": [3, 32, 32], "activation": "tanh",
     "placement": "swapped", "seed": 1, "width": 1.0}

``build(cfg)`` returns an nn.Module whose state dict matches the file written by zoo's Model.Save exactly (names,
shapes, BatchNorm's int64 num_batches_tracked included), so ``model.load_state_dict(load_file(path))`` loads it
strictly, and a state dict saved from it loads into Go with zoo.LoadWithConfig. See docs/interop.md.

Every conv + BatchNorm + activation "unit" named U owns U.conv.weight, U.conv.bias (placement none only) and U.bn.*.
The placements are

* conventional: conv (no bias) → BN → act
* swapped:      conv (no bias) → act → BN
* none:         conv (bias)    → act

and in a residual block the shortcut is added where layers.ResidualConvUnit adds it: before the activation in
conventional and none order, after the BN (with nothing following) in swapped order.

Run ``python3 models.py --selftest`` to check the parameter counts against the reference numbers.
"""

import fnmatch
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

PLACEMENTS = ("conventional", "swapped", "none")
ACTIVATIONS = ("relu", "tanh", "lecun_tanh", "softsign", "sigmoid", "hardtanh", "identity", "shifted_tanh",
               "leaky_relu", "elu", "silu", "gelu")
# The activations that take ":<value>", with the value a bare name means (layers.DefaultShift, DefaultLeakySlope,
# DefaultELUAlpha).
PARAM_DEFAULTS = {"shifted_tanh": 1.0, "leaky_relu": 0.01, "elu": 1.0}

# ---------------------------------------------------------------------------------------------------------------
# Activations (layers/activation.go)


class Activation(nn.Module):
    """An activation by its bnzoo name: relu, tanh, lecun_tanh, softsign, sigmoid, hardtanh, identity,
    shifted_tanh[:s] (tanh(x − s), s = 1 when omitted), leaky_relu[:α] (nn.LeakyReLU, α = 0.01 when omitted),
    elu[:α] (nn.ELU, α = 1 when omitted), silu (nn.SiLU) or gelu (nn.GELU, the exact erf form)."""

    def __init__(self, name):
        super().__init__()
        base, sep, param = str(name).strip().lower().partition(":")
        if base not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} (valid: {', '.join(ACTIVATIONS)})")
        if sep and base not in PARAM_DEFAULTS:
            raise ValueError(f"activation {name!r} takes no parameter")
        self.kind = base
        self.param = float(param) if sep else PARAM_DEFAULTS.get(base, 0.0)
        if not math.isfinite(self.param):
            raise ValueError(f"activation {name!r}: parameter is not finite")
        if base in ("leaky_relu", "elu") and self.param < 0:
            raise ValueError(f"activation {name!r}: alpha must be >= 0")
        self.shift = self.param if base == "shifted_tanh" else 1.0
        # PyTorch's own modules for the ReLU-like ones (no parameters or buffers, so the state dict is unchanged).
        self.fn = {"leaky_relu": lambda: nn.LeakyReLU(self.param), "elu": lambda: nn.ELU(self.param),
                   "silu": nn.SiLU, "gelu": nn.GELU}.get(base, lambda: None)()

    def forward(self, x):
        k = self.kind
        if self.fn is not None:
            return self.fn(x)
        if k == "relu":
            return torch.relu(x)
        if k == "tanh":
            return torch.tanh(x)
        if k == "lecun_tanh":
            return 1.7159 * torch.tanh(x * (2.0 / 3.0))
        if k == "softsign":
            return x / (1 + x.abs())
        if k == "sigmoid":
            return torch.sigmoid(x)
        if k == "hardtanh":
            return torch.clamp(x, -1.0, 1.0)
        if k == "shifted_tanh":
            return torch.tanh(x - self.shift)
        return x

    def extra_repr(self):
        return self.kind if self.kind not in PARAM_DEFAULTS else f"{self.kind}:{self.param:g}"


# ---------------------------------------------------------------------------------------------------------------
# Units (layers/unit.go)


class Unit(nn.Module):
    """conv → BN/act in a placement (layers.ConvUnit). With a residual, the add is where
    layers.ResidualConvUnit puts it."""

    def __init__(self, cin, cout, k, stride, pad, act, placement, depthwise=False):
        super().__init__()
        if placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {placement!r} (valid: {', '.join(PLACEMENTS)})")
        if depthwise:
            cout = cin
        self.placement = placement
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, groups=cin if depthwise else 1, bias=placement == "none")
        if placement != "none":
            self.bn = nn.BatchNorm2d(cout)  # eps 1e-5, momentum 0.1, as layers/batchnorm.go
        self.act = Activation(act)

    def set_placement(self, placement):
        """Rebuild this unit in another placement (a placement rule's override): the same convolution geometry,
        with a bias and no BN for none, without a bias and with a BN otherwise. Parameters are re-initialised, as
        the model is built to load a state dict into."""
        if placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {placement!r} (valid: {', '.join(PLACEMENTS)})")
        c = self.conv
        self.conv = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, groups=c.groups,
                              bias=placement == "none")
        if placement == "none" and hasattr(self, "bn"):
            del self.bn
        elif placement != "none" and not hasattr(self, "bn"):
            self.bn = nn.BatchNorm2d(c.out_channels)
        self.placement = placement

    def forward(self, x, residual=None):
        y = self.conv(x)
        if self.placement == "conventional":
            y = self.bn(y)
            if residual is not None:
                y = y + residual
            return self.act(y)
        if self.placement == "swapped":
            y = self.bn(self.act(y))
            return y if residual is None else y + residual
        if residual is not None:
            y = y + residual
        return self.act(y)


class ConvBN(nn.Module):
    """conv (no bias) → BN, no activation, in every placement (layers.Builder.ConvBN): projection shortcuts and
    MobileNetV2's linear projection."""

    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


def _conv_out(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


# ---------------------------------------------------------------------------------------------------------------
# VGG (zoo/vgg.go)

POOL = "M"
VGG_CONFIGS = {
    "vgg_mini": [32, POOL, 64, POOL, 128, POOL],
    "vgg11": [64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL],
    "vgg13": [64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL],
    "vgg16": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512, 512, 512, POOL],
    "vgg19": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL,
              512, 512, 512, 512, POOL],
}


class VGG(nn.Module):
    """Units features.k (3×3, pad 1; k counts convs) with 2×2 max-pools, a pool skipped when its input is smaller
    than 2×2; flatten; Linear "classifier"."""

    def __init__(self, table, classes, input_shape, act, placement):
        super().__init__()
        c, h, w = input_shape
        self.plan = []  # ("conv", k) or ("pool",)
        units = []
        for v in table:
            if v == POOL:
                if h < 2 or w < 2:
                    continue
                self.plan.append(("pool",))
                h, w = _conv_out(h, 2, 2, 0), _conv_out(w, 2, 2, 0)
                continue
            self.plan.append(("conv", len(units)))
            units.append(Unit(c, v, 3, 1, 1, act, placement))
            c = v
        self.features = nn.ModuleList(units)
        self.classifier = nn.Linear(c * h * w, classes)

    def forward(self, x):
        for step in self.plan:
            x = self.features[step[1]](x) if step[0] == "conv" else F.max_pool2d(x, 2, 2)
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------------------------
# ResNets


class BasicBlock(nn.Module):
    """Two 3×3 units conv1, conv2 and a shortcut: "A" (CIFAR option A: subsample, zero-pad channels — no
    parameters) or "B" (1×1 conv → BN named shortcut.conv / shortcut.bn) when the shape changes; identity
    otherwise. The add is inside conv2's unit (layers.ResidualConvUnit)."""

    def __init__(self, cin, cout, stride, act, placement, option):
        super().__init__()
        self.conv1 = Unit(cin, cout, 3, stride, 1, act, placement)
        self.conv2 = Unit(cout, cout, 3, 1, 1, act, placement)
        self.option = None
        if stride != 1 or cin != cout:
            self.option = option
            if option == "B":
                self.shortcut = ConvBN(cin, cout, 1, stride, 0)
            else:
                self.stride = stride
                pad = cout - cin
                self.pad = (pad // 2, pad - pad // 2)

    def forward(self, x):
        if self.option is None:
            sc = x
        elif self.option == "B":
            sc = self.shortcut(x)
        else:
            s = x[:, :, ::self.stride, ::self.stride]
            sc = F.pad(s, (0, 0, 0, 0, self.pad[0], self.pad[1]))
        return self.conv2(self.conv1(x), residual=sc)


class ResNet(nn.Module):
    """Unit "stem" (3×3), blocks.b (b counted over all stages), global average pool, Linear "classifier"."""

    def __init__(self, stem, stages, classes, input_shape, act, placement, option):
        super().__init__()
        self.stem = Unit(input_shape[0], stem, 3, 1, 1, act, placement)
        blocks, c = [], stem
        for i, (width, n) in enumerate(stages):
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(BasicBlock(c, width, stride, act, placement, option))
                c = width
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.classifier(x.mean((2, 3)))


def cifar_resnet(depth):
    """He et al. (2016) CIFAR ResNet-depth: 16/32/64 channels, (depth−2)/6 blocks a stage, option-A shortcuts."""
    n = (depth - 2) // 6

    def make(classes, input_shape, act, placement, width):
        return ResNet(16, [(16, n), (32, n), (64, n)], classes, input_shape, act, placement, "A")
    return make


def wide_resnet(blocks):
    """ResNet-18/34 for CIFAR (pytorch-cifar style): 3×3 stem to 64, no max-pool, projection shortcuts."""
    def make(classes, input_shape, act, placement, width):
        return ResNet(64, list(zip([64, 128, 256, 512], blocks)), classes, input_shape, act, placement, "B")
    return make


# ---------------------------------------------------------------------------------------------------------------
# MobileNets

MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


class MobileNetV1Block(nn.Module):
    def __init__(self, cin, cout, stride, act, placement):
        super().__init__()
        self.dw = Unit(cin, cin, 3, stride, 1, act, placement, depthwise=True)
        self.pw = Unit(cin, cout, 1, 1, 0, act, placement)

    def forward(self, x):
        return self.pw(self.dw(x))


class MobileNetV1(nn.Module):
    """CIFAR MobileNetV1: unit "stem" 3×3 to 32 (stride 1), 13 depthwise-separable blocks (blocks.b.dw, blocks.b.pw),
    global average pool, Linear "classifier". Every channel count c becomes max(1, int(c·width)), as zoo/mobilenet.go
    computes it (the paper's width multiplier, applied to the stem too)."""

    def __init__(self, classes, input_shape, act, placement, width):
        super().__init__()
        c = max(1, int(32 * width))
        self.stem = Unit(input_shape[0], c, 3, 1, 1, act, placement)
        blocks = []
        for out, stride in MOBILENET_V1:
            out = max(1, int(out * width))
            blocks.append(MobileNetV1Block(c, out, stride, act, placement))
            c = out
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.classifier(x.mean((2, 3)))


def make_divisible(v, divisor=8, min_value=None):
    """torchvision's _make_divisible: round v to the nearest multiple of divisor, not below 90% of v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t, act, placement):
        super().__init__()
        hidden = cin * t
        if t != 1:
            self.expand = Unit(cin, hidden, 1, 1, 0, act, placement)
        else:
            self.expand = None
        self.dw = Unit(hidden, hidden, 3, stride, 1, act, placement, depthwise=True)
        self.project = ConvBN(hidden, cout, 1, 1, 0)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """CIFAR MobileNetV2: unit "stem" 3×3 to 32 (stride 1), inverted residual blocks (blocks.b.expand when t ≠ 1,
    blocks.b.dw, blocks.b.project = conv → BN), unit "head" 1×1 to 1280, global average pool, Linear "classifier".
    Widths follow torchvision: make_divisible(c·width, 8); the head make_divisible(1280·max(1, width), 8)."""

    def __init__(self, classes, input_shape, act, placement, width):
        super().__init__()
        c = make_divisible(32 * width)
        self.stem = Unit(input_shape[0], c, 3, 1, 1, act, placement)
        blocks = []
        for t, out, n, s in MOBILENET_V2:
            out = make_divisible(out * width)
            for i in range(n):
                blocks.append(InvertedResidual(c, out, s if i == 0 else 1, t, act, placement))
                c = out
        self.blocks = nn.ModuleList(blocks)
        last = make_divisible(1280 * max(1.0, width))
        self.head = Unit(c, last, 1, 1, 0, act, placement)
        self.classifier = nn.Linear(last, classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.classifier(self.head(x).mean((2, 3)))


# ---------------------------------------------------------------------------------------------------------------
# Registry


def _vgg(name):
    def make(classes, input_shape, act, placement, width):
        return VGG(VGG_CONFIGS[name], classes, input_shape, act, placement)
    return make


ARCHS = {name: _vgg(name) for name in VGG_CONFIGS}
ARCHS.update({f"resnet{d}": cifar_resnet(d) for d in (20, 32, 44, 56, 110)})
ARCHS.update({"resnet18": wide_resnet([2, 2, 2, 2]), "resnet34": wide_resnet([3, 4, 6, 3])})
ARCHS.update({"mobilenet_v1": MobileNetV1, "mobilenet_v2": MobileNetV2})

# Parameter counts with 10 classes on 3×32×32 (BN γ, β included; running statistics not).
REFERENCE_COUNTS = {
    "vgg_mini": 113_962, "vgg11": 9_228_362, "vgg13": 9_413_066, "vgg16": 14_724_042, "vgg19": 20_035_018,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018, "resnet110": 1_727_962,
    "resnet18": 11_173_962, "resnet34": 21_282_122, "mobilenet_v1": 3_217_226, "mobilenet_v2": 2_236_682,
}


def _rule_selects(rule, names):
    """The indices into names (the units in zoo.Describe order) that a placement rule's selector picks, as
    zoo.PlacementRule does: first:K, last:K, first:P%, last:P% (⌊P·n/100⌋ units) or a unit-name pattern (fnmatch,
    which agrees with Go's path.Match for the * ? [...] patterns unit names need)."""
    sel = rule["units"]
    kind, colon, arg = sel.partition(":")
    n = len(names)
    if colon and kind in ("first", "last"):
        k = int(float(arg[:-1]) * n / 100) if arg.endswith("%") else int(arg)
        if not 1 <= k <= n:
            raise ValueError(f"placement rule {rule['text']!r} selects {k} of the model's {n} units")
        return list(range(n - k, n)) if kind == "last" else list(range(k))
    idx = [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, sel)]
    if not idx:
        raise ValueError(f"placement rule {rule['text']!r} matches no unit (units: {', '.join(names)})")
    return idx


def apply_placement_rules(model, rules):
    """Apply zoo.Config.PlacementRules ("SELECTOR=PLACEMENT" strings, in order, a later rule winning) to a built
    model: each selected Unit is rebuilt in the rule's placement. Units are the model's Unit modules in registration
    order, which is the Go builder's order (zoo.Describe)."""
    units = [(name, m) for name, m in model.named_modules() if isinstance(m, Unit)]
    names = [name for name, _ in units]
    want = {name: m.placement for name, m in units}
    for text in rules or []:
        sel, eq, placement = str(text).partition("=")
        if not eq or not sel.strip():
            raise ValueError(f"placement rule {text!r}: want SELECTOR=PLACEMENT")
        placement = placement.strip().lower()
        if placement not in PLACEMENTS:
            raise ValueError(f"placement rule {text!r}: unknown placement {placement!r}")
        for i in _rule_selects({"units": sel.strip(), "text": text}, names):
            want[names[i]] = placement
    for name, m in units:
        if want[name] != m.placement:
            m.set_placement(want[name])
    return model


def build(cfg):
    """Build the model described by a config dict (or its JSON string) like zoo.Config. A missing or zero width
    means 1; placement "none" has no BatchNorm; "placement_rules" (a list of "SELECTOR=PLACEMENT") mixes
    placements unit by unit, as zoo.Config.PlacementRules."""
    if isinstance(cfg, (str, bytes)):
        cfg = json.loads(cfg)
    arch = cfg["arch"]
    if arch not in ARCHS:
        raise ValueError(f"unknown model {arch!r} (valid: {sorted(ARCHS)})")
    width = float(cfg.get("width") or 1.0)
    if width <= 0:
        raise ValueError(f"model {arch}: width must be positive, got {width}")
    shape = [int(d) for d in cfg.get("input_shape", (3, 32, 32))]
    model = ARCHS[arch](int(cfg.get("classes", 10)), shape, cfg.get("activation", "relu"),
                        cfg.get("placement", "conventional"), width)
    apply_placement_rules(model, cfg.get("placement_rules"))
    if "seed" in cfg:
        model.bnzoo_seed = cfg["seed"]
    return model


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def selftest():
    """Check each architecture's parameter count against REFERENCE_COUNTS (conventional and swapped placements),
    that placement none trades each BN's γ, β for a conv bias, and that a forward pass gives (2, 10) logits."""
    ok = True
    torch.set_num_threads(1)
    for arch, want in REFERENCE_COUNTS.items():
        counts = {}
        for placement in PLACEMENTS:
            m = build({"arch": arch, "classes": 10, "input_shape": [3, 32, 32], "activation": "tanh",
                       "placement": placement})
            counts[placement] = param_count(m)
            bad_names = [k for k in m.state_dict() if not k.endswith(("weight", "bias", "running_mean",
                                                                      "running_var", "num_batches_tracked"))]
            if bad_names:
                print(f"{arch} {placement}: unexpected state-dict names {bad_names}")
                ok = False
        # none: no BN params, but conv bias on every unit conv (not ConvBN convs, which keep their BN).
        good = counts["conventional"] == want and counts["swapped"] == want
        ok = ok and good
        print(f"{arch:13s} {counts['conventional']:>12,d}  (want {want:>12,d})  none {counts['none']:>12,d}  "
              f"{'ok' if good else 'MISMATCH'}")
    with torch.no_grad():
        for arch in ("vgg_mini", "resnet20", "mobilenet_v2"):
            for act in ("shifted_tanh:0.5", "lecun_tanh", "leaky_relu:0.2", "elu", "silu", "gelu"):
                m = build({"arch": arch, "classes": 10, "input_shape": [3, 32, 32], "activation": act,
                           "placement": "swapped"}).eval()
                y = m(torch.randn(2, 3, 32, 32))
                if tuple(y.shape) != (2, 10) or not torch.isfinite(y).all():
                    print(f"{arch} {act}: bad logits {tuple(y.shape)}")
                    ok = False
    m = build({"arch": "vgg11", "classes": 10, "input_shape": [1, 28, 28], "activation": "tanh",
               "placement": "swapped"})
    if m.classifier.in_features != 512:  # the last pool is skipped at 1×1
        print(f"vgg11 on 1×28×28: classifier input {m.classifier.in_features}, want 512")
        ok = False
    print("selftest", "ok" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(0 if selftest() else 1)
    print(__doc__)
