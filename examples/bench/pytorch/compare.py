"""Run the Go benchmark (examples/bench) and the PyTorch one (bench.py) alternately and print a Markdown ratio table::

    /usr/bin/python3 compare.py --go-bin /tmp/gobench-dnnl --rounds 3 --out results.jsonl \\
        --models vgg11,resnet20 --activations tanh --placements conventional,swapped

For every model × activation × placement and every round it runs one Go measurement, then one PyTorch measurement
(Go, PyTorch, Go, PyTorch, … so that a slow spell on the machine hits both sides), each in a fresh process:

* Go: GO_BIN -models M -activations A -placements P -batch … (no -single: the Go parent runs the configuration in
  its own child and fills peak_rss_mb from that child's rusage) with OMP_WAIT_POLICY=passive, plus --go-env K=V.
* PyTorch: PYTHON bench.py --single --models M … with OPENBLAS_NUM_THREADS=1, MALLOC_MMAP_THRESHOLD_=1073741824,
  MALLOC_TRIM_THRESHOLD_=4294967296 (tuned PyTorch: what a careful user runs), plus --torch-env K=V. The process
  reports its own peak RSS.

Each measurement's JSON line goes to --out (results.jsonl) with "side" ("go" or "pytorch"), "round" and "loadavg"
(1-minute load average before the run) added. The table gives each side's median img/s and peak RSS over the rounds
and, per ratio, the median of the rounds' Go/PyTorch ratios (each round's Go run against the PyTorch run that
followed it), with their range when there is more than one round. Progress goes to stderr. A failed run is reported,
left out of the table (shown as "failed"), and makes the exit status 1.

Bench flags (one or two dashes): --models, --activations, --placements, --batch (128), --warmup (2), --steps (5),
--classes (10), --input (3x32x32), --threads (PyTorch's torch.set_num_threads; default: the CPUs this process may use,
as Go's GOMAXPROCS). --configs tanh/conventional,tanh/swapped,relu/conventional runs those activation/placement pairs
for every model instead of the cross product of --activations and --placements.
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
    p.add_argument("--rounds", type=int, default=3, help="Go/PyTorch pairs per configuration")
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


def fmt(v, digits=1):
    return "failed" if v is None else f"{v:,.{digits}f}"


def median(xs):
    return statistics.median(xs) if xs else None


def ratio_cell(rs):
    if not rs:
        return "failed"
    m = statistics.median(rs)
    if len(rs) == 1:
        return f"{m:.2f}"
    return f"{m:.2f} ({min(rs):.2f}–{max(rs):.2f})"


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

    go_env = dict(os.environ)
    go_env.update(GO_ENV)
    go_env.update(dict(o.go_env))
    torch_env = dict(os.environ)
    torch_env.update(bench.TUNED_ENV)
    torch_env.update(dict(o.torch_env))
    shape = "x".join(map(str, o.input))
    common = ["-batch", str(o.batch), "-warmup", str(o.warmup), "-steps", str(o.steps), "-classes", str(o.classes),
              "-input", shape]

    print(f"compare.py: {o.rounds} round(s), batch {o.batch}, input {shape}, {o.warmup} warm-up + {o.steps} timed "
          f"steps; Go env {' '.join(f'{k}={v}' for k, v in {**GO_ENV, **dict(o.go_env)}.items())}; PyTorch env "
          f"{' '.join(f'{k}={v}' for k, v in {**bench.TUNED_ENV, **dict(o.torch_env)}.items())}, "
          f"{o.threads} thread(s)", file=sys.stderr)

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
    configs = [(m, a, p) for m in bench.split(o.models) for a, p in pairs]
    load = os.getloadavg()[0]
    if load >= 0.5:
        print(f"compare.py: warning: 1-minute load average is {load:.2f}: the machine is not idle, and another "
              f"process on one of the CPUs slows PyTorch's threads several-fold", file=sys.stderr)
    rows, failed, backends = [], False, {}
    with open(o.out, "w") as out:
        for m, a, p in configs:
            go_runs, torch_runs, train_ratios, infer_ratios = [], [], [], []
            for rnd in range(1, o.rounds + 1):
                pair = {}
                for side in ("go", "pytorch"):
                    if side == "go":
                        cmd = [go_bin, "-models", m, "-activations", a, "-placements", p] + common
                        env = go_env
                    else:
                        cmd = [o.python, os.path.join(HERE, "bench.py")] + bench.child_args(o, m, a, p)
                        env = torch_env
                    load = os.getloadavg()[0]
                    t0 = time.monotonic()
                    r, err = run_json(cmd, env, o.timeout)
                    if err:
                        failed = True
                        print(f"compare.py: {m} {a} {p} round {rnd} {side}: {err}", file=sys.stderr)
                        continue
                    print(f"compare.py: {m} {a} {p} round {rnd} {side}: train {r['train_img_s']:.1f} img/s, "
                          f"infer {r['infer_img_s']:.1f} img/s, peak {r['peak_rss_mb']:.0f} MB "
                          f"({time.monotonic() - t0:.0f}s, load {load:.2f})", file=sys.stderr)
                    backends[side] = f"{r['backend']}, {r['threads']} thread(s)"
                    out.write(json.dumps({**r, "side": side, "round": rnd, "loadavg": load}) + "\n")
                    out.flush()
                    pair[side] = r
                    (go_runs if side == "go" else torch_runs).append(r)
                if len(pair) == 2:
                    g, t = pair["go"], pair["pytorch"]
                    if t["train_img_s"] > 0:
                        train_ratios.append(g["train_img_s"] / t["train_img_s"])
                    if t["infer_img_s"] > 0:
                        infer_ratios.append(g["infer_img_s"] / t["infer_img_s"])
                    if g["params"] != t["params"]:
                        print(f"compare.py: warning: {m} {a} {p}: Go has {g['params']} parameters, PyTorch "
                              f"{t['params']}", file=sys.stderr)
            rows.append((m, a, p, go_runs, torch_runs, train_ratios, infer_ratios))

    print("| model | activation | placement | Go train img/s | PyTorch train img/s | train ratio (Go/PyTorch) | "
          "Go infer img/s | PyTorch infer img/s | infer ratio (Go/PyTorch) | Go peak RSS MB | PyTorch peak RSS MB |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for m, a, p, go_runs, torch_runs, train_ratios, infer_ratios in rows:
        def med(runs, field):
            return median([r[field] for r in runs])
        print(f"| {m} | {a} | {p} | {fmt(med(go_runs, 'train_img_s'))} | {fmt(med(torch_runs, 'train_img_s'))} | "
              f"{ratio_cell(train_ratios)} | {fmt(med(go_runs, 'infer_img_s'))} | "
              f"{fmt(med(torch_runs, 'infer_img_s'))} | {ratio_cell(infer_ratios)} | "
              f"{fmt(med(go_runs, 'peak_rss_mb'), 0)} | {fmt(med(torch_runs, 'peak_rss_mb'), 0)} |")
    print()
    print(f"Batch {o.batch}, input {shape}, {o.classes} classes, {o.warmup} warm-up + {o.steps} timed steps, "
          f"medians of {o.rounds} alternating round(s); ratios are medians of the per-round Go/PyTorch ratios "
          f"(range in parentheses). Go: {backends.get('go', '?')}. PyTorch: {backends.get('pytorch', '?')}. "
          f"Raw lines: {o.out}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
