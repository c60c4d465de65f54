"""Check that PyTorch and bnzoo's Go models compute the same logits from the same state dict, in both directions.

bnzoo → PyTorch (the default mode)::

    check_interop.py MODEL.safetensors INPUT.safetensors EXPECTED.safetensors [MODEL INPUT EXPECTED ...]

For each triple: build the model from MODEL's "bnzoo.config" metadata (models.build), load the file as its state
dict with a plain strict ``model.load_state_dict(state)`` (no key added, renamed or dropped: the file must be exactly
PyTorch's state dict, BatchNorm's num_batches_tracked included), switch to eval mode, run INPUT's tensor "input" and
compare with EXPECTED's tensor "logits": pass when max |diff| ≤ 1e-4·(1 + max |expected|). The line's "tracked"
gives each BatchNorm's num_batches_tracked after the load: PyTorch's BatchNorm fills in a missing one with 0 when the
state dict has no version metadata (a dict from load_file has none), even in a strict load, so a file without those
tensors loads but loses its counts. Prints one JSON line per
triple and exits 0 when all pass, 1 otherwise (2 on bad usage). Several triples share one Python start-up, which
costs more than a small check. The model runs in the file's dtype (float32 for a float32 Go model, with one thread);
for float32 files the line also gives, as diagnostics outside the verdict, the distances of Go's logits
(max_abs_diff_f64) and of PyTorch's float32 logits (torch_f32_err) from the same weights evaluated in float64.

PyTorch → bnzoo::

    check_interop.py --export DIR NAME DTYPE CONFIG_JSON [NAME DTYPE CONFIG_JSON ...]

For each triple: seed torch with the config's seed, build the model (models.build) in DTYPE (float32 or float64) with
PyTorch's own initialisation, move it away from values a wrong loader could match by accident (BatchNorm γ, β and
conv biases random, depthwise filters scaled as the Go test scales them), run two training-mode forward passes (the
first with BatchNorm momentum 1, so that the running statistics normalise roughly as in a trained net) and write to
DIR: NAME.model.safetensors (the plain state_dict(), no metadata, as a PyTorch user saves it), NAME.input.safetensors
(tensor "input", batch 2) and NAME.expected.safetensors (tensor "logits", eval mode). Prints one JSON line per triple
({"name", "model", "input", "expected", "params"} or {"name", "error"}) and exits as the default mode does.
"""

import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import models  # noqa: E402
import safetensors_io  # noqa: E402

RTOL = 1e-4
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def check(model_path, input_path, expected_path):
    """Return the result dict for one triple; raises on malformed files or a state dict that does not load."""
    state, meta = safetensors_io.load(model_path)
    if "bnzoo.config" not in meta:
        raise ValueError(f"{model_path}: no bnzoo.config metadata: not a bnzoo model file")
    cfg = json.loads(meta["bnzoo.config"])
    floats = [t.dtype for t in state.values() if t.is_floating_point()]
    dtype = floats[0] if floats else torch.float32
    model = models.build(cfg).to(dtype)
    model.load_state_dict(state)  # strict: raises, naming the keys, on any missing or unexpected tensor
    model.eval()
    inputs, _ = safetensors_io.load(input_path)
    expected, _ = safetensors_io.load(expected_path)
    x, want = inputs["input"].to(dtype), expected["logits"].to(dtype)
    with torch.no_grad():
        got = model(x)
    if got.shape != want.shape:
        raise ValueError(f"logits have shape {list(got.shape)}, expected {list(want.shape)}")
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    tol = RTOL * (1 + scale)
    res = {"ok": bool(diff <= tol), "model": os.path.basename(model_path), "arch": cfg["arch"],
           "activation": cfg.get("activation"), "placement": cfg.get("placement"), "dtype": str(dtype)[6:],
           "max_abs_diff": diff, "max_abs_expected": scale, "tol": tol, "params": models.param_count(model),
           "tracked": {k[:-len(".num_batches_tracked")]: int(v) for k, v in model.state_dict().items()
                       if k.endswith(".num_batches_tracked")}}
    if dtype == torch.float32:
        # Diagnostics, not part of the verdict: the same weights in float64 give the exact logits, so a failure can
        # be told apart from float32 rounding amplified by an ill-conditioned (deep, untrained) net: then PyTorch's
        # own float32 error (torch_f32_err) is as large as Go's (max_abs_diff_f64).
        model64 = model.double()
        with torch.no_grad():
            exact = model64(x.double())
        res["max_abs_diff_f64"] = (want.double() - exact).abs().max().item()
        res["torch_f32_err"] = (got.double() - exact).abs().max().item()
    return res


def perturb(model):
    """Random BN γ, β and conv biases (1, 0 and 0 at initialisation), and depthwise filters scaled by √C to keep the
    MobileNets' signal alive, as zoo's perturbForInterop does."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.copy_(1 + 0.25 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.25 * torch.randn_like(mod.bias))
            elif isinstance(mod, torch.nn.Conv2d):
                if mod.bias is not None:
                    mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
                if mod.groups > 1 and mod.groups == mod.in_channels:
                    mod.weight.mul_(math.sqrt(mod.out_channels))


def export(out_dir, name, dtype_name, cfg_json):
    """Write one PyTorch-initialised model's state dict, an input and its eval logits; return the result dict."""
    if dtype_name not in DTYPES:
        raise ValueError(f"dtype {dtype_name!r} (valid: {', '.join(DTYPES)})")
    dtype = DTYPES[dtype_name]
    cfg = json.loads(cfg_json)
    torch.manual_seed(int(cfg.get("seed", 0)))
    model = models.build(cfg).to(dtype)
    perturb(model)
    shape = [int(d) for d in cfg.get("input_shape", (3, 32, 32))]
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    model.train()
    with torch.no_grad():
        for momentum in (1.0, 0.1):
            for bn in bns:
                bn.momentum = momentum
            model(torch.randn([2] + shape, dtype=dtype))
    model.eval()
    x = torch.randn([2] + shape, dtype=dtype)
    with torch.no_grad():
        logits = model(x)
    paths = {k: os.path.join(out_dir, f"{name}.{k}.safetensors") for k in ("model", "input", "expected")}
    safetensors_io.save_file(model.state_dict(), paths["model"])
    safetensors_io.save_file({"input": x}, paths["input"])
    safetensors_io.save_file({"logits": logits}, paths["expected"])
    return {"ok": True, "name": name, **paths, "params": models.param_count(model)}


def run(argv, size, fn, label):
    """Apply fn to each group of size arguments, printing one JSON line each; return the exit status."""
    all_ok = True
    for i in range(0, len(argv), size):
        try:
            res = fn(*argv[i:i + size])
        except Exception as e:  # report and go on with the other groups
            res = {"ok": False, label: os.path.basename(argv[i]), "error": f"{type(e).__name__}: {e}"}
        all_ok = all_ok and res["ok"]
        print(json.dumps(res), flush=True)
    return 0 if all_ok else 1


def main(argv):
    torch.set_num_threads(1)
    if argv[:1] == ["--export"]:
        if len(argv) < 5 or (len(argv) - 2) % 3:
            print(__doc__, file=sys.stderr)
            return 2
        out_dir = argv[1]
        return run(argv[2:], 3, lambda *a: export(out_dir, *a), "name")
    if not argv or len(argv) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    return run(argv, 3, check, "model")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
