"""PyTorch side of examples/bench: training and inference throughput and peak memory of the zoo's architectures
(interop/pytorch/models.py, imported by path from the repository root), one JSON line per model × activation × placement, with the Go program's flags and fields::

    /usr/bin/python3 bench.py --models vgg11,resnet20,mobilenet_v1 --activations tanh --placements conventional,swapped

Fields: model, activation, placement, batch, params, train_img_s, infer_img_s, peak_rss_mb, threads, backend.
Flags (one or two dashes, as Go's flag package accepts): --models, --activations, --placements (comma lists),
--batch 128, --warmup 2, --steps 5, --classes 10, --input 3x32x32, --single; and --threads (default: the CPUs this
process may run on, as GOMAXPROCS), --no-tune.

A training step is forward, CrossEntropyLoss, backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4: train.
DefaultConfig) step, zero_grad(set_to_none=True) in train mode; inference is eval mode under torch.no_grad(). Both
read the loss and the number of correct predictions, as the Go Trainer's Step and Predict return them. The batch is
random (normal images, uniform labels) from seed 1; the model's initial weights come from torch.manual_seed(1).
Throughput is batch·steps / time.perf_counter() over --steps after --warmup untimed steps.

Every configuration runs in its own child process (this script with --single), which prints its own
getrusage(RUSAGE_SELF).ru_maxrss as peak_rss_mb, so each peak is its own (it includes the interpreter and torch's
libraries, as the Go figure includes the Go runtime).

The environment matters and glibc and OpenBLAS read it only at process start (see README.md next to main.go): the
parent sets OPENBLAS_NUM_THREADS=1, MALLOC_MMAP_THRESHOLD_=1073741824 and MALLOC_TRIM_THRESHOLD_=4294967296 in its
children's environment unless they are already set (--no-tune: leave the environment as it is). A --single process
takes its environment as given and warns on stderr when a tuned variable is missing.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

TUNED_ENV = {
    # Debian's OpenBLAS is multi-threaded and torch.set_num_threads does not control it.
    "OPENBLAS_NUM_THREADS": "1",
    # Keep glibc from returning large buffers to the kernel and faulting them back in every step.
    "MALLOC_MMAP_THRESHOLD_": "1073741824",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
}

HERE = os.path.dirname(os.path.abspath(__file__))
# The PyTorch definitions of the zoo live in interop/pytorch (shared with the interop test), three levels up.
INTEROP = os.path.normpath(os.path.join(HERE, "..", "..", "..", "interop", "pytorch"))


def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_input(s):
    m = re.fullmatch(r"\s*(\d+)x(\d+)x(\d+)\s*", s)
    if not m:
        raise argparse.ArgumentTypeError(f"--input {s!r} is not CxHxW")
    return [int(g) for g in m.groups()]


def add_bench_flags(p):
    """The flags bench.py shares with the Go program (and compare.py), plus --threads."""
    p.add_argument("-models", "--models", default="vgg11,resnet20,mobilenet_v1", help="comma-separated model names")
    p.add_argument("-activations", "--activations", default="tanh", help="comma-separated activations")
    p.add_argument("-placements", "--placements", default="conventional,swapped", help="comma-separated placements")
    p.add_argument("-batch", "--batch", type=int, default=128, help="batch size")
    p.add_argument("-warmup", "--warmup", type=int, default=2, help="untimed steps before measuring")
    p.add_argument("-steps", "--steps", type=int, default=5, help="timed steps for training and for inference")
    p.add_argument("-classes", "--classes", type=int, default=10, help="classes")
    p.add_argument("-input", "--input", type=parse_input, default=[3, 32, 32], help="input shape CxHxW")
    p.add_argument("-threads", "--threads", type=int, default=default_threads(),
                   help="torch.set_num_threads (default: the CPUs this process may use, %(default)s here)")
    return p


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    add_bench_flags(p)
    p.add_argument("-single", "--single", action="store_true",
                   help="run exactly one configuration in this process (used by the parent)")
    p.add_argument("-no-tune", "--no-tune", action="store_true",
                   help="do not add the tuned OPENBLAS/MALLOC variables to the children's environment")
    return p


def split(s):
    return [f.strip() for f in s.split(",") if f.strip()]


def backend_name(torch):
    """"pytorch <version> (oneDNN <version>)", the oneDNN version as torch's build configuration states it."""
    dnn = None
    if torch.backends.mkldnn.is_available():
        dnn = getattr(torch.backends.mkldnn, "version", None)  # not in 1.13
        if callable(dnn):
            dnn = dnn()
        if not dnn:
            m = re.search(r"(?:MKL-DNN|oneDNN)\s+v?([0-9][0-9.]*)", torch.__config__.show())
            dnn = m.group(1) if m else "unknown version"
    return f"pytorch {torch.__version__}" + (f" (oneDNN {dnn})" if dnn else " (no oneDNN)")


def activation_name(models, name):
    """The activation's canonical name, as Go's Activation.String prints it."""
    a = models.Activation(name)
    if a.kind not in models.PARAM_DEFAULTS:
        return a.kind
    s = repr(a.param)
    return a.kind + ":" + (s[:-2] if s.endswith(".0") else s)


def measure(o):
    """Build one model and time training steps and inference batches on one random batch."""
    import torch
    import torch.nn as nn

    sys.path.insert(0, INTEROP)
    import models

    missing = [k for k in TUNED_ENV if k not in os.environ]
    if missing:
        print(f"bench.py: warning: {', '.join(missing)} not set: this is untuned PyTorch", file=sys.stderr)

    torch.set_num_threads(o.threads)
    torch.manual_seed(1)
    model = models.build({"arch": o.models, "classes": o.classes, "input_shape": o.input,
                          "activation": o.activations, "placement": o.placements, "seed": 1})
    g = torch.Generator().manual_seed(1)
    x = torch.randn(o.batch, *o.input, generator=g)
    y = torch.randint(0, o.classes, (o.batch,), generator=g)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item(), int((out.argmax(1) == y).sum())

    def infer_step():
        out = model(x)
        return loss_fn(out, y).item(), int((out.argmax(1) == y).sum())

    def time_steps(step):
        for _ in range(o.warmup):
            step()
        start = time.perf_counter()
        for _ in range(o.steps):
            step()
        return o.steps * o.batch / (time.perf_counter() - start)

    model.train()
    train_ips = time_steps(train_step)
    model.eval()
    with torch.no_grad():
        infer_ips = time_steps(infer_step)
    return {"model": o.models, "activation": activation_name(models, o.activations), "placement": o.placements,
            "batch": o.batch, "params": models.param_count(model), "train_img_s": train_ips,
            "infer_img_s": infer_ips,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
            "threads": torch.get_num_threads(), "backend": backend_name(torch)}


def child_env(tune=True, extra=None):
    """The environment for a --single child: this one, plus the tuned variables not already set, plus extra."""
    env = dict(os.environ)
    if tune:
        for k, v in TUNED_ENV.items():
            env.setdefault(k, v)
    env.update(extra or {})
    return env


def child_args(o, model, act, placement):
    return ["--single", "--models", model, "--activations", act, "--placements", placement,
            "--batch", str(o.batch), "--warmup", str(o.warmup), "--steps", str(o.steps), "--classes", str(o.classes),
            "--input", "x".join(map(str, o.input)), "--threads", str(o.threads)]


def main(argv=None):
    o = parser().parse_args(argv)
    if o.batch < 1 or o.steps < 1 or o.warmup < 0 or o.classes < 1 or o.threads < 1:
        print("bench.py: --batch, --steps, --classes and --threads must be positive, --warmup not negative",
              file=sys.stderr)
        return 2
    if o.single:
        try:
            r = measure(o)
        except (ValueError, KeyError) as e:
            print(f"bench.py: {e}", file=sys.stderr)
            return 2
        print(json.dumps(r), flush=True)
        return 0
    env = child_env(tune=not o.no_tune)
    for m in split(o.models):
        for a in split(o.activations):
            for p in split(o.placements):
                cmd = [sys.executable, os.path.abspath(__file__)] + child_args(o, m, a, p)
                res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
                if res.returncode != 0:
                    print(f"bench.py: {m} {a} {p}: child exited with {res.returncode}", file=sys.stderr)
                    return res.returncode if res.returncode > 0 else 1
                try:
                    r = json.loads(res.stdout)
                except ValueError as e:
                    print(f"bench.py: {m} {a} {p}: child printed {res.stdout!r}: {e}", file=sys.stderr)
                    return 1
                print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
