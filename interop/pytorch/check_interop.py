"""Check that PyTorch computes the same logits as bnzoo's Go model from a file written by zoo's Model.Save.

    check_interop.py MODEL.safetensors INPUT.safetensors EXPECTED.safetensors [MODEL INPUT EXPECTED ...]

For each triple: build the model from MODEL's "bnzoo.config" metadata (models.build), load its tensors as the state
dict (the only keys the file may lack are BatchNorm's num_batches_tracked, restored from "bnzoo.tracked"; it may
have no keys the model lacks), switch to eval mode, run INPUT's tensor "input" and compare with EXPECTED's tensor
"logits": pass when max |diff| ≤ 1e-4·(1 + max |expected|). Prints one JSON line per triple and exits 0 when all
pass, 1 otherwise (2 on bad usage). Several triples share one Python start-up, which costs more than a small check.
The model runs in the file's dtype (float32 for a float32 Go model, with one thread); for float32 files the line also
gives, as diagnostics outside the verdict, the distances of Go's logits (max_abs_diff_f64) and of PyTorch's float32
logits (torch_f32_err) from the same weights evaluated in float64.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import models  # noqa: E402
import safetensors_io  # noqa: E402

RTOL = 1e-4


def check(model_path, input_path, expected_path):
    """Return the result dict for one triple; raises on malformed files."""
    state, meta = safetensors_io.load(model_path)
    if "bnzoo.config" not in meta:
        raise ValueError(f"{model_path}: no bnzoo.config metadata: not a bnzoo model file")
    cfg = json.loads(meta["bnzoo.config"])
    model = models.build(cfg)
    dtype = next(iter(state.values())).dtype if state else torch.float32
    model = model.to(dtype)
    tracked = json.loads(meta.get("bnzoo.tracked", "{}"))
    for name, n in tracked.items():
        state[name + ".num_batches_tracked"] = torch.tensor(int(n), dtype=torch.long)
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(".num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{model_path} ({cfg['arch']}): state dict differs: missing {missing}, "
                         f"unexpected {list(result.unexpected_keys)}")
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
           "max_abs_diff": diff, "max_abs_expected": scale, "tol": tol, "params": models.param_count(model)}
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


def main(argv):
    if not argv or len(argv) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    all_ok = True
    for i in range(0, len(argv), 3):
        try:
            res = check(*argv[i:i + 3])
        except Exception as e:  # report and go on with the other triples
            res = {"ok": False, "model": os.path.basename(argv[i]), "error": f"{type(e).__name__}: {e}"}
        all_ok = all_ok and res["ok"]
        print(json.dumps(res), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
