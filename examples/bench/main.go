// Command bench measures training and inference throughput and peak memory of zoo models, one JSON line per
// model × activation × placement. Each configuration runs in a child process so its peak RSS is its own.
//
//	go run ./examples/bench -models vgg11,resnet20,mobilenet_v1 -activations tanh -placements conventional,swapped
//
// Fields: model, activation, placement, batch, params, train_img_s, infer_img_s, peak_rss_mb, threads, backend.
// The PyTorch reference (pytorch/bench.py) prints the same lines; pytorch/compare.py runs both and prints ratios.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"

	"github.com/bnzoo/bnzoo/internal/provenance"
)

// Result is one JSON line.
type Result struct {
	Model      string  `json:"model"`
	Activation string  `json:"activation"`
	Placement  string  `json:"placement"`
	Batch      int     `json:"batch"`
	Params     int     `json:"params"`
	TrainImgS  float64 `json:"train_img_s"`
	InferImgS  float64 `json:"infer_img_s"`
	FusedInfer bool    `json:"fused_infer"` // inference ran on fused graphs where the build has them
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Threads    int     `json:"threads"`
	Backend    string  `json:"backend"`
	// Provenance is what produced the line: bnzoo's revision, Go, the kernels, the CPU.
	Provenance provenance.Info `json:"provenance"`
}

type options struct {
	models, activations, placements string
	batch, warmup, steps, classes   int
	input                           [3]int
	single                          bool
	fuse                            bool   // fused evaluation graphs for inference
	profileDir                      string // when set, CPU profiles of the timed steps go here
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // -h printed the usage: exit 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	var input string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.models, "models", "vgg11,resnet20,mobilenet_v1", "comma-separated model names: "+strings.Join(zoo.Names(), ", "))
	fs.StringVar(&o.activations, "activations", "tanh", "comma-separated activations: "+layers.ActivationUsage())
	fs.StringVar(&o.placements, "placements", "conventional,swapped", "comma-separated placements")
	fs.IntVar(&o.batch, "batch", 128, "batch size")
	fs.IntVar(&o.warmup, "warmup", 2, "untimed steps before measuring (graph compilation, first allocations)")
	fs.IntVar(&o.steps, "steps", 5, "timed steps for training and for inference")
	fs.IntVar(&o.classes, "classes", 10, "classes")
	fs.StringVar(&input, "input", "3x32x32", "input shape CxHxW")
	fs.BoolVar(&o.fuse, "fuse", true, "run inference on fused graphs (train.Config.FuseEvaluation: BatchNorm folded into the convolution, the activation a oneDNN post-op; -tags dnnl float32 only)")
	fs.StringVar(&o.profileDir, "profile-dir", "", "write CPU profiles of the timed training and inference steps to DIR/<model>-<activation>-<placement>-{train,infer}.pprof")
	fs.BoolVar(&o.single, "single", false, "run exactly one configuration in this process (used by the parent)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `bench measures training and inference throughput and peak memory of zoo models, one JSON line per
model × activation × placement, each in a child process of its own.

Usage: go run ./examples/bench [flags]

Flags:
`)
		// -single is how the parent starts each child, not a user's flag.
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == "single" {
				return
			}
			def := f.DefValue
			if flagType(f) == "string" {
				def = strconv.Quote(def)
			}
			fmt.Fprintf(stderr, "  -%s %s\n    \t%s (default %s)\n", f.Name, flagType(f), f.Usage, def)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if _, err := fmt.Sscanf(input, "%dx%dx%d", &o.input[0], &o.input[1], &o.input[2]); err != nil {
		return o, fmt.Errorf("%w: -input %q is not CxHxW", errUsage, input)
	}
	if o.batch < 1 || o.steps < 1 || o.warmup < 0 {
		return o, fmt.Errorf("%w: -batch and -steps must be positive, -warmup not negative", errUsage)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.single {
		r, err := measure(o)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(r)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, m := range split(o.models) {
		for _, a := range split(o.activations) {
			for _, p := range split(o.placements) {
				childArgs := []string{"-single", "-models", m, "-activations", a, "-placements", p,
					"-batch", fmt.Sprint(o.batch), "-warmup", fmt.Sprint(o.warmup), "-steps", fmt.Sprint(o.steps),
					"-classes", fmt.Sprint(o.classes), "-input", fmt.Sprintf("%dx%dx%d", o.input[0], o.input[1], o.input[2])}
				childArgs = append(childArgs, fmt.Sprintf("-fuse=%t", o.fuse))
				if o.profileDir != "" {
					childArgs = append(childArgs, "-profile-dir", o.profileDir)
				}
				cmd := exec.Command(self, childArgs...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s %s %s: %w", m, a, p, err)
				}
				var r Result
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					return fmt.Errorf("%s %s %s: child printed %q: %w", m, a, p, out.String(), err)
				}
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
					r.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports KiB
				}
				if err := json.NewEncoder(stdout).Encode(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// flagType is the value's type as flag.PrintDefaults names it ("int", "string").
func flagType(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	return name
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// measure builds one model and times training steps and inference batches on random data.
func measure(o options) (Result, error) {
	act, err := layers.ParseActivation(o.activations)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	pl, err := layers.ParsePlacement(o.placements)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := zoo.New(zoo.Config{Arch: o.models, Classes: o.classes, InputShape: o.input, Activation: act, Placement: pl, Seed: 1}, tensor.Float32)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg := train.DefaultConfig()
	cfg.BatchSize = o.batch
	cfg.FuseEvaluation = o.fuse
	tr, err := train.NewTrainer(m, cfg)
	if err != nil {
		return Result{}, err
	}
	defer tr.Close()
	rng := rand.New(rand.NewSource(1))
	b := datasets.Batch{N: o.batch, X: make([]float32, o.batch*o.input[0]*o.input[1]*o.input[2]), Y: make([]int, o.batch)}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = rng.Intn(o.classes)
	}
	timeSteps := func(phase string, step func(*datasets.Batch) (float64, int, error)) (float64, error) {
		for i := 0; i < o.warmup; i++ {
			if _, _, err := step(&b); err != nil {
				return 0, err
			}
		}
		stop, err := startProfile(o, phase)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		for i := 0; i < o.steps; i++ {
			if _, _, err := step(&b); err != nil {
				stop()
				return 0, err
			}
		}
		ips := float64(o.steps*o.batch) / time.Since(start).Seconds()
		return ips, stop()
	}
	trainIPS, err := timeSteps("train", tr.Step)
	if err != nil {
		return Result{}, err
	}
	inferIPS, err := timeSteps("infer", tr.Predict)
	if err != nil {
		return Result{}, err
	}
	return Result{Model: o.models, Activation: act.String(), Placement: pl.String(), Batch: o.batch, Params: m.ParamCount(),
		TrainImgS: trainIPS, InferImgS: inferIPS, FusedInfer: o.fuse, Threads: runtime.GOMAXPROCS(0), Backend: backend, Provenance: provenance.Collect()}, nil
}

// startProfile starts a CPU profile of one phase ("train" or "infer") when -profile-dir is set, and returns the
// function that stops it and closes its file. Only the timed steps are profiled, not the warm-up.
func startProfile(o options, phase string) (stop func() error, err error) {
	if o.profileDir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return nil, fmt.Errorf("-profile-dir: %w", err)
	}
	name := filepath.Join(o.profileDir, fmt.Sprintf("%s-%s-%s-%s.pprof", o.models, o.activations, o.placements, phase))
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("-profile-dir: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-profile-dir: %s: %w", name, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
