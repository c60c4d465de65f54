"""PyTorch side of examples/bench: training and inference throughput and peak memory of the zoo's architectures
(interop/pytorch/models.py, imported by path from the repository root), one JSON line per model × activation ×
placement × variant, with the Go program's flags and fields::

    /usr/bin/python3 bench.py --models vgg11,resnet20,mobilenet_v1 --activations tanh --placements conventional,swapped

Fields: model, activation, placement, variant, jit, batch, params, train_img_s, infer_img_s, peak_rss_mb, threads,
backend. variant is how PyTorch runs the model, as a careful CPU user would (--variants, default all three):

* eager: the nn.Module on NCHW tensors;
* channels_last: model.to(memory_format=torch.channels_last) and the batch x.contiguous(memory_format=
  torch.channels_last), for training and inference;
* frozen: torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model.eval()))), with
  torch.jit.trace(model, x) instead of script where scripting fails (it does for every model in models.py).
  Inference only: train_img_s is null. jit says which was used ("script" or "trace"); it is null for the others.

Flags (one or two dashes, as Go's flag package accepts): --models, --activations, --placements (comma lists),
--batch 128, --warmup 2, --steps 5, --classes 10, --input 3x32x32, --variants eager,channels_last,frozen, --single
with --variant (eager); and --threads (default: the CPUs this process may run on, as GOMAXPROCS), --no-tune.
--check[=MODELS] checks instead that every variant computes what eager does (see check()).

A training step is forward, CrossEntropyLoss, backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4: train.
DefaultConfig) step, zero_grad(set_to_none=True) in train mode; inference is eval mode under torch.no_grad(). Both
read the loss and the number of correct predictions, as the Go Trainer's Step and Predict return them. The batch is
random (normal images, uniform labels) from seed 1; the model's initial weights come from torch.manual_seed(1).
Throughput is batch·steps / time.perf_counter() over --steps after --warmup untimed steps (the frozen module's
first calls also let the JIT's profiling executor specialise it: keep --warmup at 2 or more for real figures).

Every configuration and variant runs in its own child process (this script with --single --variant V), which prints
its own getrusage(RUSAGE_SELF).ru_maxrss as peak_rss_mb, so each peak is its own (it includes the interpreter and
torch's libraries, as the Go figure includes the Go runtime) and no variant inherits another's caches or JIT state.
A child that fails is reported on stderr and the others still run; the exit status is then non-zero.

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

# How PyTorch runs a model (see the docstring); the first two also train.
VARIANTS = ("eager", "channels_last", "frozen")
TRAINING_VARIANTS = ("eager", "channels_last")

# --check: the models and activation/placement pairs it checks, its batch, and the largest difference it accepts
# between a variant's logits and eager's, relative to the largest eager logit: float32 rounding differs between the
# variants (frozen folds BatchNorm into the convolutions, channels_last sums in another order), and in train mode
# BatchNorm's batch statistics over few values amplify it (mobilenet_v2 reaches ~5e-5 at batch 8).
CHECK_MODELS = "vgg_mini,resnet20,mobilenet_v2"
CHECK_CONFIGS = (("tanh", "swapped"), ("relu", "conventional"))
CHECK_BATCH = 8
CHECK_TOLERANCE = 1e-4
CHECK_TRAIN_TOLERANCE = 1e-3

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


def parse_variants(s):
    vs = split(s)
    bad = [v for v in vs if v not in VARIANTS]
    if bad or not vs:
        raise argparse.ArgumentTypeError(f"--variants {s!r}: want a comma list of {', '.join(VARIANTS)}")
    return vs


def add_bench_flags(p):
    """The flags bench.py shares with the Go program (and compare.py), plus --threads and --variants."""
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
    p.add_argument("-variants", "--variants", type=parse_variants, default=list(VARIANTS),
                   help=f"comma-separated PyTorch variants, each in its own process (default {','.join(VARIANTS)})")
    return p


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    add_bench_flags(p)
    p.add_argument("-single", "--single", action="store_true",
                   help="run exactly one configuration in this process (used by the parent)")
    p.add_argument("-variant", "--variant", choices=VARIANTS,
                   help="with --single: the variant to run (default eager); the parent takes --variants")
    p.add_argument("-no-tune", "--no-tune", action="store_true",
                   help="do not add the tuned OPENBLAS/MALLOC variables to the children's environment")
    p.add_argument("-check", "--check", nargs="?", const=CHECK_MODELS, metavar="MODELS",
                   help=f"check that every variant's logits equal eager's (models: default {CHECK_MODELS}; "
                        f"{', '.join('/'.join(c) for c in CHECK_CONFIGS)}; batch {CHECK_BATCH}, --input) and exit")
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


def import_models():
    sys.path.insert(0, INTEROP)
    import models
    return models


def build(models, arch, act, placement, o):
    return models.build({"arch": arch, "classes": o.classes, "input_shape": o.input, "activation": act,
                         "placement": placement, "seed": 1})


def frozen(torch, model, x):
    """The eval-mode model as TorchScript, frozen (weights become constants, BatchNorm folds into the convolutions)
    and optimised for inference (oneDNN layouts and fusions), and how it was compiled: "script", or "trace" (on x)
    where scripting fails. Raises what trace raises when both fail."""
    model.eval()
    try:
        m, how = torch.jit.script(model), "script"
    except Exception:  # models.py's modules are plain Python, and TorchScript rejects every model in it today
        with torch.no_grad():
            m, how = torch.jit.trace(model, x), "trace"
    return torch.jit.optimize_for_inference(torch.jit.freeze(m)), how


def prepare(torch, variant, model, x):
    """The variant of model and batch x: (the module to train, or None; the module for inference; the input; jit)."""
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        return model, model, x.contiguous(memory_format=torch.channels_last), None
    if variant == "frozen":
        m, how = frozen(torch, model, x)
        return None, m, x, how
    return model, model, x, None


def measure(o):
    """Build one model, make it the --variant, and time training steps and inference batches on one random batch."""
    import torch
    import torch.nn as nn

    models = import_models()
    missing = [k for k in TUNED_ENV if k not in os.environ]
    if missing:
        print(f"bench.py: warning: {', '.join(missing)} not set: this is untuned PyTorch", file=sys.stderr)

    torch.set_num_threads(o.threads)
    torch.manual_seed(1)
    model = build(models, o.models, o.activations, o.placements, o)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(o.batch, *o.input, generator=g)
    y = torch.randint(0, o.classes, (o.batch,), generator=g)
    variant = o.variant or "eager"
    train_model, infer_model, x, jit = prepare(torch, variant, model, x)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        out = train_model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item(), int((out.argmax(1) == y).sum())

    def infer_step():
        out = infer_model(x)
        return loss_fn(out, y).item(), int((out.argmax(1) == y).sum())

    def time_steps(step):
        for _ in range(o.warmup):
            step()
        start = time.perf_counter()
        for _ in range(o.steps):
            step()
        return o.steps * o.batch / (time.perf_counter() - start)

    train_ips = None
    if train_model is not None:
        model.train()
        train_ips = time_steps(train_step)
    model.eval()
    with torch.no_grad():
        infer_ips = time_steps(infer_step)
    return {"model": o.models, "activation": activation_name(models, o.activations), "placement": o.placements,
            "variant": variant, "jit": jit, "batch": o.batch, "params": models.param_count(model),
            "train_img_s": train_ips, "infer_img_s": infer_ips,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
            "threads": torch.get_num_threads(), "backend": backend_name(torch)}


def check(o):
    """For each --check model and CHECK_CONFIGS pair, on a random batch of CHECK_BATCH with BatchNorm's running
    statistics and affine parameters randomised (so that folding them is not a no-op): every variant's eval logits
    and channels_last's train-mode logits (BatchNorm on batch statistics) against eager's. A difference is
    max|variant − eager| / max|eager|; it passes at CHECK_TOLERANCE or below (train mode: CHECK_TRAIN_TOLERANCE).
    Prints a line per model × pair and the largest differences; returns the exit status."""
    import copy

    import torch
    import torch.nn as nn

    models = import_models()
    torch.set_num_threads(o.threads)

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))

    tolerance = {"channels_last eval": CHECK_TOLERANCE, "frozen eval": CHECK_TOLERANCE,
                 "channels_last train": CHECK_TRAIN_TOLERANCE}
    worst, ok = dict.fromkeys(tolerance, 0.0), True
    for arch in split(o.check):
        for act, placement in CHECK_CONFIGS:
            torch.manual_seed(1)
            model = build(models, arch, act, placement, o)
            with torch.no_grad():
                for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
                    bn.running_mean.normal_(0, 0.5)
                    bn.running_var.uniform_(0.5, 2.0)
                    bn.weight.uniform_(0.5, 1.5)
                    bn.bias.normal_(0, 0.5)
            x = torch.randn(CHECK_BATCH, *o.input)
            cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
            xcl = x.contiguous(memory_format=torch.channels_last)
            fz, how = frozen(torch, copy.deepcopy(model), x)
            with torch.no_grad():
                ref = model.eval()(x)
                diffs = {"channels_last eval": rel(cl.eval()(xcl), ref),
                         # the first calls run the profiling executor's graph, later ones its optimised graph
                         "frozen eval": max(rel(fz(x), ref) for _ in range(3)),
                         "channels_last train": rel(cl.train()(xcl), model.train()(x))}
            for k, d in diffs.items():
                worst[k] = max(worst[k], d)
                ok = ok and d <= tolerance[k]
            print(f"{arch} {act} {placement} (frozen by {how}): " + ", ".join(f"{k} {d:.1e}" for k, d in diffs.items()),
                  flush=True)
    print("max: " + ", ".join(f"{k} {d:.1e} (tolerance {tolerance[k]:g})" for k, d in worst.items()) +
          ", relative to the largest eager logit: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def child_env(tune=True, extra=None):
    """The environment for a --single child: this one, plus the tuned variables not already set, plus extra."""
    env = dict(os.environ)
    if tune:
        for k, v in TUNED_ENV.items():
            env.setdefault(k, v)
    env.update(extra or {})
    return env


def child_args(o, model, act, placement, variant):
    return ["--single", "--variant", variant, "--models", model, "--activations", act, "--placements", placement,
            "--batch", str(o.batch), "--warmup", str(o.warmup), "--steps", str(o.steps), "--classes", str(o.classes),
            "--input", "x".join(map(str, o.input)), "--threads", str(o.threads)]


def main(argv=None):
    o = parser().parse_args(argv)
    if o.batch < 1 or o.steps < 1 or o.warmup < 0 or o.classes < 1 or o.threads < 1:
        print("bench.py: --batch, --steps, --classes and --threads must be positive, --warmup not negative",
              file=sys.stderr)
        return 2
    if o.variant and not o.single:
        print("bench.py: --variant is for a --single child; the parent takes --variants", file=sys.stderr)
        return 2
    if o.check:
        try:
            return check(o)
        except (ValueError, KeyError) as e:
            print(f"bench.py: {e}", file=sys.stderr)
            return 2
    if o.single:
        try:
            r = measure(o)
        except (ValueError, KeyError) as e:
            print(f"bench.py: {e}", file=sys.stderr)
            return 2
        print(json.dumps(r), flush=True)
        return 0
    env, status = child_env(tune=not o.no_tune), 0
    for m in split(o.models):
        for a in split(o.activations):
            for p in split(o.placements):
                for v in o.variants:
                    cmd = [sys.executable, os.path.abspath(__file__)] + child_args(o, m, a, p, v)
                    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
                    if res.returncode != 0:
                        print(f"bench.py: {m} {a} {p} {v}: child exited with {res.returncode}", file=sys.stderr)
                        status = max(status, res.returncode if res.returncode > 0 else 1)
                        continue
                    try:
                        r = json.loads(res.stdout)
                    except ValueError as e:
                        print(f"bench.py: {m} {a} {p} {v}: child printed {res.stdout!r}: {e}", file=sys.stderr)
                        status = 1
                        continue
                    print(json.dumps(r), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
