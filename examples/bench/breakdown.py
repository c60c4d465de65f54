"""Where a training step and an inference batch of the Go benchmark spend their time, by oneDNN's own timings::

    /usr/bin/python3 examples/bench/breakdown.py --go-bin /tmp/gobench-dnnl --models resnet20,vgg11 \\
        --configs tanh/swapped,relu/conventional

For each model and activation/placement it runs the -tags dnnl benchmark binary (examples/bench) once as a
-single child with ONEDNN_VERBOSE=1 and OMP_WAIT_POLICY=passive, splits oneDNN's "exec" lines into the training
steps and the inference batches (the first forward_inference primitive starts inference), and prints one Markdown
row per phase: the time per step or batch (from the benchmark's img/s) and its shares spent in oneDNN's
convolutions (forward, backward data, backward weights), its reorders (layout conversions), its pooling, and
everything else — bnzoo's own C loops (BatchNorm, activations, the fused post-ops), Go and Gorgonia. ONEDNN_VERBOSE
adds a little time of its own, so the step times run slightly above the benchmark's.

Flags: --go-bin (required), --models, --configs (act/placement pairs), --batch (128), --warmup (1), --steps (3).
"""

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--go-bin", required=True, help="the examples/bench binary built with -tags dnnl")
    p.add_argument("--models", default="vgg11,vgg16,resnet20,resnet18,mobilenet_v1,mobilenet_v2")
    p.add_argument("--configs", default="tanh/conventional,tanh/swapped,relu/conventional")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    return p


def category(fields):
    """The column of one exec line: fields are its comma-separated parts."""
    kind, prop = fields[3], fields[5]
    if kind == "convolution":
        return {"backward_data": "conv bwd data", "backward_weights": "conv bwd weights"}.get(prop, "conv fwd")
    if kind == "reorder":
        return "reorders"
    if kind.startswith("pooling"):
        return "pooling"
    return "other oneDNN"


COLUMNS = ["conv fwd", "conv bwd data", "conv bwd weights", "reorders", "pooling", "other oneDNN"]


def breakdown(o, model, act, placement):
    """Run one configuration; return {phase: (ms per pass, {column: ms per pass})}."""
    cmd = [o.go_bin, "-single", "-models", model, "-activations", act, "-placements", placement,
           "-batch", str(o.batch), "-warmup", str(o.warmup), "-steps", str(o.steps)]
    env = dict(os.environ, ONEDNN_VERBOSE="1", OMP_WAIT_POLICY="passive")
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr[-2000:]}")
    result = json.loads([ln for ln in res.stdout.splitlines() if ln.strip()][-1])
    lines = [ln.split(",") for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("onednn_verbose,exec,")]
    start = next((i for i, f in enumerate(lines) if f[5] == "forward_inference"), len(lines))
    passes = o.warmup + o.steps
    out = {}
    for phase, chunk, ips in [("train", lines[:start], result["train_img_s"]),
                              ("infer", lines[start:], result["infer_img_s"])]:
        ms = defaultdict(float)
        for f in chunk:
            ms[category(f)] += float(f[-1]) / passes
        out[phase] = (1000 * o.batch / ips, ms)
    return out


def main():
    o = parser().parse_args()
    print("| model | activation | placement | phase | ms per step | " + " | ".join(COLUMNS) +
          " | bnzoo's loops, Go |")
    print("|---|---|---|---|--:|" + "--:|" * (len(COLUMNS) + 1))
    for model in o.models.split(","):
        for pair in o.configs.split(","):
            act, placement = pair.split("/")
            print(f"{model} {act} {placement}", file=sys.stderr, flush=True)
            for phase, (total, ms) in breakdown(o, model, act, placement).items():
                rest = total - sum(ms.values())
                cells = [f"{100 * ms[c] / total:.0f}%" for c in COLUMNS] + [f"{100 * rest / total:.0f}%"]
                print(f"| {model} | {act} | {placement} | {phase} | {total:.0f} | " + " | ".join(cells) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
