"""Run the Go benchmark (examples/bench) and the PyTorch one (bench.py) alternately and print a Markdown ratio table::

    /usr/bin/python3 compare.py --go-bin /tmp/gobench-dnnl --rounds 3 --out results.jsonl \\
        --models vgg11,resnet20 --activations tanh --placements conventional,swapped

For every model × activation × placement and every round it runs one Go measurement, then one PyTorch measurement
per variant (Go, eager, channels_last, frozen, Go, eager, … so that a slow spell on the machine hits every side),
each in a fresh process:

* Go: GO_BIN -models M -activations A -placements P -batch … (no -single: the Go parent runs the configuration in
  its own child and fills peak_rss_mb from that child's rusage) with OMP_WAIT_POLICY=passive, plus --go-env K=V.
* PyTorch: PYTHON bench.py --single --variant V --models M … with OPENBLAS_NUM_THREADS=1,
  MALLOC_MMAP_THRESHOLD_=1073741824, MALLOC_TRIM_THRESHOLD_=4294967296 (tuned PyTorch: what a careful user runs),
  plus --torch-env K=V. The process reports its own peak RSS. --variants (default eager,channels_last,frozen) picks
  the variants; bench.py's docstring says what each is.

Each measurement's JSON line goes to --out (results.jsonl) with "side" ("go" or "pytorch"), "round" and "loadavg"
(1-minute load average before the run) added; PyTorch's lines carry their "variant" and "jit", and frozen's
"train_img_s" is null. Progress goes to stderr.

The first table compares Go with the best PyTorch variant per column: for training the one of eager and
channels_last with the highest median img/s over the rounds, for inference the best of all three, named in the cell.
A ratio is the median of the rounds' Go/PyTorch ratios (each round's Go run against that variant's run that followed
it), with their range when there is more than one round; the peak RSS columns are Go's and PyTorch eager's medians.
The second table gives every variant's medians and ratios. A failed run is reported, makes the exit status 1, and
leaves its variant out of "best" for that configuration (a Go failure leaves the round out of the ratios).

Bench flags (one or two dashes): --models, --activations, --placements, --batch (128), --warmup (2), --steps (5),
--classes (10), --input (3x32x32), --threads (PyTorch's torch.set_num_threads; default: the CPUs this process may use,
as Go's GOMAXPROCS), --variants. --configs tanh/conventional,tanh/swapped,relu/conventional runs those
activation/placement pairs for every model instead of the cross product of --activations and --placements.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402  (no torch import at module level)

GO_ENV = {"OMP_WAIT_POLICY": "passive"}  # OpenMP reads it at start; spinning threads steal Gorgonia's next op's core


def key_value(s):
    k, sep, v = s.partition("=")
    if not sep or not k:
        raise argparse.ArgumentTypeError(f"{s!r} is not K=V")
    return k, v


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    bench.add_bench_flags(p)
    p.add_argument("--go-bin", required=True, help="the examples/bench binary (go build [-tags dnnl] ./examples/bench)")
    p.add_argument("--go-env", type=key_value, action="append", default=[], metavar="K=V",
                   help="extra environment variable for the Go runs (repeatable)")
    p.add_argument("--torch-env", type=key_value, action="append", default=[], metavar="K=V",
                   help="extra environment variable for the PyTorch runs, overriding the tuned ones (repeatable)")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (Go, then each variant) per configuration")
    p.add_argument("--out", default="results.jsonl", help="file for the raw JSON lines")
    p.add_argument("--configs", metavar="ACT/PLACEMENT,...",
                   help="activation/placement pairs to run for every model instead of --activations × --placements, "
                        "e.g. tanh/conventional,tanh/swapped,relu/conventional")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed to one run")
    return p


def run_json(cmd, env, timeout):
    """Run cmd; return (the JSON object it printed on its last stdout line, None) or (None, error text)."""
    try:
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g}s"
    except OSError as e:
        return None, str(e)
    if res.returncode != 0:
        return None, f"exit status {res.returncode}: {res.stderr.strip()[-2000:]}"
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) != 1:
        return None, f"expected one JSON line, got {res.stdout!r}"
    try:
        return json.loads(lines[0]), None
    except ValueError as e:
        return None, f"printed {lines[0]!r}: {e}"


def fmt(v, digits=1, missing="failed"):
    return missing if v is None else f"{v:,.{digits}f}"


def median(xs):
    return statistics.median(xs) if xs else None


def ratio_cell(rs):
    if not rs:
        return "failed"
    m = statistics.median(rs)
    if len(rs) == 1:
        return f"{m:.2f}"
    return f"{m:.2f} ({min(rs):.2f}–{max(rs):.2f})"


class Config:
    """One model × activation × placement's runs: go[round] and torch[variant][round], the successful ones."""

    def __init__(self, model, act, placement, variants, rounds):
        self.key = (model, act, placement)
        self.variants, self.rounds = variants, rounds
        self.go, self.torch = {}, {v: {} for v in variants}

    def med(self, runs, field):
        return median([r[field] for r in runs.values() if r[field] is not None])

    def ratios(self, variant, field):
        """Go/variant for each round in which both ran."""
        t = self.torch[variant]
        return [g[field] / t[rnd][field] for rnd, g in sorted(self.go.items())
                if rnd in t and t[rnd][field] and g[field] is not None]

    def best(self, field, candidates):
        """The variant among candidates that ran every round with the highest median of field, or None."""
        ok = [v for v in self.variants if v in candidates and len(self.torch[v]) == self.rounds
              and self.med(self.torch[v], field) is not None]
        return max(ok, key=lambda v: self.med(self.torch[v], field), default=None)

    def best_cells(self, field, candidates):
        """The best variant's median img/s (the variant named) and its ratio cell."""
        if not any(v in candidates for v in self.variants):
            return "not run", "—"
        v = self.best(field, candidates)
        if v is None:
            return "failed", "failed"
        return f"{fmt(self.med(self.torch[v], field))} ({v})", ratio_cell(self.ratios(v, field))


def measure(o, c, go_bin, go_env, torch_env, out, backends):
    """Run c's rounds (Go, then each variant, per round), writing every line to out; True when all runs succeeded."""
    m, a, p = c.key
    shape = "x".join(map(str, o.input))
    go_cmd = [go_bin, "-models", m, "-activations", a, "-placements", p, "-batch", str(o.batch), "-warmup",
              str(o.warmup), "-steps", str(o.steps), "-classes", str(o.classes), "-input", shape]
    ok = True
    for rnd in range(1, o.rounds + 1):
        for side, variant in [("go", None)] + [("pytorch", v) for v in c.variants]:
            if side == "go":
                cmd, env, name = go_cmd, go_env, "go"
            else:
                cmd = [o.python, os.path.join(HERE, "bench.py")] + bench.child_args(o, m, a, p, variant)
                env, name = torch_env, f"pytorch {variant}"
            load = os.getloadavg()[0]
            t0 = time.monotonic()
            r, err = run_json(cmd, env, o.timeout)
            if err:
                ok = False
                print(f"compare.py: {m} {a} {p} round {rnd} {name}: {err}", file=sys.stderr)
                continue
            jit = f", jit {r['jit']}" if r.get("jit") else ""
            print(f"compare.py: {m} {a} {p} round {rnd} {name}: train {fmt(r['train_img_s'], missing='—')} img/s, "
                  f"infer {r['infer_img_s']:.1f} img/s, peak {r['peak_rss_mb']:.0f} MB{jit} "
                  f"({time.monotonic() - t0:.0f}s, load {load:.2f})", file=sys.stderr)
            backends[side] = f"{r['backend']}, {r['threads']} thread(s)"
            out.write(json.dumps({**r, "side": side, "round": rnd, "loadavg": load}) + "\n")
            out.flush()
            if side == "go":
                c.go[rnd] = r
                continue
            c.torch[variant][rnd] = r
            g = c.go.get(rnd)
            if g and g["params"] != r["params"]:
                print(f"compare.py: warning: {m} {a} {p}: Go has {g['params']} parameters, PyTorch {variant} "
                      f"{r['params']}", file=sys.stderr)
    return ok


def print_tables(o, configs, backends):
    print("| model | activation | placement | Go train img/s | best PyTorch train img/s | train ratio (Go/best) | "
          "Go infer img/s | best PyTorch infer img/s | infer ratio (Go/best) | Go peak RSS MB | "
          "PyTorch eager peak RSS MB |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for c in configs:
        train, train_ratio = c.best_cells("train_img_s", bench.TRAINING_VARIANTS)
        infer, infer_ratio = c.best_cells("infer_img_s", bench.VARIANTS)
        eager_rss = fmt(c.med(c.torch["eager"], "peak_rss_mb"), 0) if "eager" in c.torch else "not run"
        print(f"| {' | '.join(c.key)} | {fmt(c.med(c.go, 'train_img_s'))} | {train} | {train_ratio} | "
              f"{fmt(c.med(c.go, 'infer_img_s'))} | {infer} | {infer_ratio} | {fmt(c.med(c.go, 'peak_rss_mb'), 0)} | "
              f"{eager_rss} |")
    print()
    print("| model | activation | placement | PyTorch variant | train img/s | train ratio (Go/variant) | infer img/s | "
          "infer ratio (Go/variant) | peak RSS MB |")
    print("|---|---|---|---|--:|--:|--:|--:|--:|")
    for c in configs:
        for v, runs in c.torch.items():
            name = v
            jits = sorted({r["jit"] for r in runs.values() if r.get("jit")})
            if jits:
                name += f" ({'/'.join(jits)})"
            if len(runs) < o.rounds:
                name += f", {o.rounds - len(runs)} of {o.rounds} round(s) failed"
            trains = v in bench.TRAINING_VARIANTS
            print(f"| {' | '.join(c.key)} | {name} | "
                  f"{fmt(c.med(runs, 'train_img_s')) if trains else '—'} | "
                  f"{ratio_cell(c.ratios(v, 'train_img_s')) if trains else '—'} | "
                  f"{fmt(c.med(runs, 'infer_img_s'))} | {ratio_cell(c.ratios(v, 'infer_img_s'))} | "
                  f"{fmt(c.med(runs, 'peak_rss_mb'), 0)} |")
    print()
    print(f"Batch {o.batch}, input {'x'.join(map(str, o.input))}, {o.classes} classes, {o.warmup} warm-up + "
          f"{o.steps} timed steps, medians of {o.rounds} alternating round(s) (Go, then {', '.join(o.variants)}). "
          f"Best: the PyTorch variant with the highest median img/s among those that ran every round (training: "
          f"{' or '.join(bench.TRAINING_VARIANTS)}; frozen TorchScript cannot train); ratios are medians "
          f"of the per-round Go/PyTorch ratios (range in parentheses). Go: {backends.get('go', '?')}. "
          f"PyTorch: {backends.get('pytorch', '?')}. Raw lines: {o.out}.")


def main(argv=None):
    o = parser().parse_args(argv)
    if o.batch < 1 or o.steps < 1 or o.warmup < 0 or o.classes < 1 or o.threads < 1 or o.rounds < 1:
        print("compare.py: --batch, --steps, --classes, --threads and --rounds must be positive, --warmup not negative",
              file=sys.stderr)
        return 2
    go_bin = os.path.abspath(o.go_bin)
    if not os.access(go_bin, os.X_OK):
        print(f"compare.py: --go-bin {o.go_bin}: not an executable file", file=sys.stderr)
        return 2
    if o.configs:
        pairs = []
        for item in bench.split(o.configs):
            a, sep, p = item.partition("/")
            if not sep or not a.strip() or not p.strip():
                print(f"compare.py: --configs item {item!r} is not ACTIVATION/PLACEMENT", file=sys.stderr)
                return 2
            pairs.append((a.strip(), p.strip()))
    else:
        pairs = [(a, p) for a in bench.split(o.activations) for p in bench.split(o.placements)]
    o.variants = variants = list(dict.fromkeys(o.variants))  # in the order given, once each
    configs = [Config(m, a, p, variants, o.rounds) for m in bench.split(o.models) for a, p in pairs]

    go_env = {**os.environ, **GO_ENV, **dict(o.go_env)}
    torch_env = {**os.environ, **bench.TUNED_ENV, **dict(o.torch_env)}
    print(f"compare.py: {o.rounds} round(s), batch {o.batch}, input {'x'.join(map(str, o.input))}, {o.warmup} "
          f"warm-up + {o.steps} timed steps, PyTorch variants {', '.join(variants)}; Go env "
          f"{' '.join(f'{k}={v}' for k, v in {**GO_ENV, **dict(o.go_env)}.items())}; PyTorch env "
          f"{' '.join(f'{k}={v}' for k, v in {**bench.TUNED_ENV, **dict(o.torch_env)}.items())}, "
          f"{o.threads} thread(s)", file=sys.stderr)
    load = os.getloadavg()[0]
    if load >= 0.5:
        print(f"compare.py: warning: 1-minute load average is {load:.2f}: the machine is not idle, and another "
              f"process on one of the CPUs slows PyTorch's threads several-fold", file=sys.stderr)
    ok, backends = True, {}
    with open(o.out, "w") as out:
        for c in configs:
            ok = measure(o, c, go_bin, go_env, torch_env, out, backends) and ok
    print_tables(o, configs, backends)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
