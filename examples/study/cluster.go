package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bnzoo/bnzoo/internal/study"
	"github.com/bnzoo/bnzoo/train"
)

// The subcommands a cluster runs: export (writes the scheduler files), run-index (one task) and collect.

// exportFlags are the flags of export beyond the grid's.
type exportFlags struct {
	out, command, name, image, pvc, mount, timeLimit string
	parallelism, cpus, memory, uid                   int
	dataInImage                                      bool
}

func (e *exportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.out, "out", "", "where to write grid.json and the scheduler files (default -dir)")
	fs.StringVar(&e.command, "command", "bnzoo-study", "the study program as the tasks run it (go build -o bnzoo-study ./examples/study; go install would name it study)")
	fs.StringVar(&e.name, "name", "", "name of the Jobs and job arrays: lower-case letters, digits and '-' (default bnzoo-<experiment>-<budget>)")
	fs.StringVar(&e.image, "image", "bnzoo:latest", "Kubernetes: container image holding -command")
	fs.StringVar(&e.pvc, "pvc", "bnzoo-shared", "Kubernetes: PersistentVolumeClaim of the shared storage")
	fs.StringVar(&e.mount, "mount", "", "Kubernetes: where the claim is mounted (default the parent of -dir, or the directory holding -dir and -data-dir)")
	fs.BoolVar(&e.dataInImage, "data-in-image", false, "Kubernetes: the image holds -data-dir, so it need not be under -mount")
	fs.IntVar(&e.uid, "uid", 1000, "Kubernetes: user, group and fsGroup of the pods (not root)")
	fs.StringVar(&e.timeLimit, "time", "24:00:00", "Slurm: --time of each task (tasks checkpoint and requeue themselves 5 minutes before it)")
	fs.IntVar(&e.parallelism, "parallelism", 0, "tasks at a time (0 = all)")
	fs.IntVar(&e.cpus, "cpus", 2, "CPUs per task")
	fs.IntVar(&e.memory, "memory", 8, "memory per task, GiB")
}

// run exports grid g for the study directory dir as the tasks see it.
func (e *exportFlags) run(g *study.Grid, dir string, stdout, stderr io.Writer) error {
	if !filepath.IsAbs(dir) {
		return usageError("dir", "must be an absolute path as the tasks see it, got %q", dir)
	}
	out := e.out
	if out == "" {
		out = dir
	}
	files, err := study.Export(out, g, study.ExportOptions{Dir: dir, Command: e.command, Name: e.name,
		Parallelism: e.parallelism, CPUs: e.cpus, MemoryGiB: e.memory, TimeLimit: e.timeLimit, Image: e.image,
		PVC: e.pvc, MountPath: e.mount, DataInImage: e.dataInImage, UID: e.uid})
	var oe *study.ExportOptionError
	if errors.As(err, &oe) {
		return usageError(oe.Option, "%s", oe.Reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "study: exported %d grid points:\n", len(g.Points()))
	for _, f := range files {
		fmt.Fprintln(stdout, "  "+f)
	}
	fmt.Fprintf(stdout, "submit: %s (Slurm) or %s (Kubernetes); docs/cluster.md\n",
		filepath.Join(dir, study.SlurmSubmitFile), filepath.Join(dir, study.K8sSubmitFile))
	if !strings.ContainsRune(e.command, '/') {
		if _, err := exec.LookPath(e.command); err != nil {
			fmt.Fprintf(stderr, "study: warning: %s is not on this machine's PATH; the tasks need it on theirs "+
				"(go build -o %s ./examples/study), or give -command its path\n", e.command, e.command)
		}
	}
	return nil
}

func runCollect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("study collect", flag.ContinueOnError)
	dir := fs.String("dir", "", "study directory (holds runs/)")
	noFigures := fs.Bool("no-figures", false, "print the table only; write nothing")
	complete := fs.Bool("complete", false, fmt.Sprintf("exit with status %d, naming them, when grid points have no result (after writing the summary)", study.ExitIncomplete))
	if err := parse(fs, args, stderr, "study collect aggregates the finished runs of a study directory.\n\nFlags:\n"); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("dir", "the study directory is required")
	}
	_, gridErr := os.Stat(filepath.Join(*dir, study.GridFile))
	_, runsErr := os.Stat(filepath.Join(*dir, study.RunsDir))
	if gridErr != nil && runsErr != nil {
		return usageError("dir", "%s is not a study directory (no %s, no %s/)", *dir, study.GridFile, study.RunsDir)
	}
	s, err := collect(*dir, stdout, !*noFigures)
	if err != nil || !*complete {
		return err
	}
	return s.Complete()
}

func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("study run-index", flag.ContinueOnError)
	dir := fs.String("dir", "", "study directory holding grid.json")
	index := fs.Int("index", -1, "grid point to run (0-based, as list prints)")
	offset := fs.Int("index-offset", 0, "added to -index (a Kubernetes Job of the points after the learning-rate sweep counts from 0)")
	quiet := fs.Bool("quiet", false, "no progress bars")
	if err := parse(fs, args, stderr, "study run-index runs one grid point of a study directory.\n\nFlags:\n"); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("dir", "the study directory is required")
	}
	if *offset < 0 {
		return usageError("index-offset", "must not be negative, got %d", *offset)
	}
	r, err := study.NewRunner(*dir, progressFor(*quiet, stderr), log)
	if err != nil {
		return usageError("dir", "%v", err)
	}
	points := r.Grid.Points()
	i := *index + *offset
	if *index < 0 || i >= len(points) {
		return usageError("index", "with -index-offset %d must give a point in [0, %d) of the grid in %s, got %d", *offset, len(points), *dir, i)
	}
	p := points[i]
	out, err := r.RunPoint(ctx, p)
	var ie *train.InterruptedError
	if errors.As(err, &ie) {
		ie.Resume = fmt.Sprintf("resubmit index %d to resume it (Slurm: sbatch --array=%d %s; a requeued task or a retried pod does it by itself)",
			p.Index, p.Index, filepath.Join(*dir, study.SlurmArrayFile))
	}
	if err != nil {
		return fmt.Errorf("point %d (%s): %w", p.Index, p.ID(), err)
	}
	if out.Result != nil {
		p = out.Result.Point // with its resolved learning rate
	}
	fmt.Fprintf(stdout, "study: point %d %s: %s\n", p.Index, p.ID(), describeOutcome(out, nil))
	return nil
}
