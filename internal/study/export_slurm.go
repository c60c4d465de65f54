package study

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellLine is cmd with args as a shell command line; an argument "${VAR}" stays a variable to expand.
func shellLine(cmd string, args []string) string {
	parts := []string{shellQuote(cmd)}
	for _, a := range args {
		if strings.HasPrefix(a, "${") {
			parts = append(parts, `"`+a+`"`)
			continue
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// slurmFiles are the Slurm side of an export: the array, the collect job and the script that submits them.
func slurmFiles(o ExportOptions, n, sweep int) []exportFile {
	return []exportFile{
		{SlurmSubmitFile, []byte(slurmSubmit(o, n, sweep)), 0o755},
		{SlurmArrayFile, []byte(slurmArray(o, n)), 0o755},
		{SlurmCollectFile, []byte(slurmCollect(o)), 0o755},
	}
}

// commandCheck is the shell lines that stop a task at once, with a message saying how to fix it, when the study
// program is not on the node (go install names the binary "study", not bnzoo-study); status 2 as for a bad flag.
func commandCheck(o ExportOptions) string {
	return fmt.Sprintf(`command -v %[1]s >/dev/null || {
  echo "%[1]s not found on $(hostname) (PATH=$PATH): build it with go build -o bnzoo-study ./examples/study and put it on the nodes' PATH, or export with -command /shared/path/to/it" >&2
  exit 2
}
`, shellQuote(o.Command))
}

// slurmArray is the job-array script: array task i runs grid point i. It runs the program in the background and
// waits for it, so that it can act on two signals. SIGUSR1 comes from --signal=B:USR1@<lead>, to this shell only,
// SlurmSignalLead before the time limit: the program is told to stop (SIGTERM: it finishes its step and writes a
// checkpoint) and the task requeues itself to resume from there. SIGTERM (scancel, the time limit itself, a
// requeue) reaches the program directly, since Slurm signals every process of the job: the shell only waits for
// it, as a second SIGTERM would kill it before its checkpoint.
func slurmArray(o ExportOptions, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n#SBATCH --job-name=%s\n#SBATCH --cpus-per-task=%d\n#SBATCH --mem=%dG\n#SBATCH --time=%s\n",
		o.Name, o.CPUs, o.MemoryGiB, o.TimeLimit)
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", arrayRange(o, 0, n))
	fmt.Fprintf(&b, "#SBATCH --output=%s/%s/%%A_%%a.out\n#SBATCH --open-mode=append\n", o.Dir, SlurmLogsDir)
	fmt.Fprintf(&b, "#SBATCH --requeue\n#SBATCH --signal=B:USR1@%d\n", int(SlurmSignalLead.Seconds()))
	fmt.Fprintf(&b, `#
# bnzoo study: task i runs grid point i of the %d in %s (written by "bnzoo-study export").
# Submit with %s, which submits the learning-rate sweep first. To resubmit single indices:
#   sbatch --array=3,7 %s
# A task that finds its point finished exits at once; one that finds it half done resumes it. %d minutes before
# its time limit a task writes a checkpoint and requeues itself, to go on where it stopped.
set -uo pipefail
export OMP_WAIT_POLICY=passive
export GOMAXPROCS="${SLURM_CPUS_PER_TASK:-%d}"
`, n, o.Dir, filepath.Join(o.Dir, SlurmSubmitFile), filepath.Join(o.Dir, SlurmArrayFile), int(SlurmSignalLead.Minutes()), o.CPUs)
	b.WriteString(commandCheck(o))
	b.WriteString(`pid=
requeue=0
trap 'requeue=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' USR1
trap ':' TERM
`)
	b.WriteString(shellLine(o.Command, RunIndexArgs(o.Dir, "${"+SlurmIndexVar+"}")) + " &\n")
	b.WriteString(`pid=$!
while :; do
  wait "$pid"
  status=$?
  kill -0 "$pid" 2>/dev/null || break
done
if [ "$requeue" = 1 ] && [ "$status" = 143 ]; then
  echo "bnzoo: time limit near: checkpoint written, requeueing task ${SLURM_ARRAY_TASK_ID}" >&2
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
fi
exit "$status"
`)
	return b.String()
}

// arrayRange is the --array value of indices [from, to) with the parallelism limit.
func arrayRange(o ExportOptions, from, to int) string {
	r := strconv.Itoa(from)
	if to-1 > from {
		r += "-" + strconv.Itoa(to-1)
	}
	if o.Parallelism > 0 {
		r += "%" + strconv.Itoa(o.Parallelism)
	}
	return r
}

// slurmCollect is the collect job: small (1 CPU, 1 GiB, 30 minutes), and failed (exit status ExitIncomplete)
// when grid points have no result, after writing the summary of those that have.
func slurmCollect(o ExportOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n#SBATCH --job-name=%s-collect\n#SBATCH --cpus-per-task=1\n#SBATCH --mem=1G\n#SBATCH --time=30:00\n", o.Name)
	fmt.Fprintf(&b, "#SBATCH --output=%s/%s/collect-%%j.out\n#SBATCH --open-mode=append\n", o.Dir, SlurmLogsDir)
	fmt.Fprintf(&b, "#\n# bnzoo study: aggregate %s (summary.md, CSVs, figures/); fails with status %d, naming the indices to\n"+
		"# resubmit, when grid points have no result.\nset -uo pipefail\nexport GOMAXPROCS=1\n", o.Dir, ExitIncomplete)
	b.WriteString(commandCheck(o))
	b.WriteString("exec " + shellLine(o.Command, CollectArgs(o.Dir)) + "\n")
	return b.String()
}

// slurmSubmit is the submission script: the sweep's indices first, the others once the sweep has ended (they need
// its learning-rate choice), the collect job once every task has ended. Its arguments go to every sbatch (a
// partition, an account). It keeps the job id of "sbatch --parsable", which prints "id;cluster" on multi-cluster
// sites.
func slurmSubmit(o ExportOptions, n, sweep int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/bash
# Submits the bnzoo study in %[1]s to Slurm (written by "bnzoo-study export"). Arguments go to every sbatch, e.g.
#   %[2]s --partition=cpu --account=myproject
# Run it again to resubmit everything: finished points exit at once, interrupted ones resume.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p %[3]s
submit() {
  local id
  id=$(sbatch --parsable "$@")
  echo "${id%%%%;*}"
}
`, o.Dir, filepath.Join(o.Dir, SlurmSubmitFile), shellQuote(filepath.Join(o.Dir, SlurmLogsDir)))
	last := "tasks"
	if sweep < n {
		fmt.Fprintf(&b, "sweep=$(submit \"$@\" --array=%s \"$here/%s\")\n", arrayRange(o, 0, sweep), SlurmArrayFile)
		fmt.Fprintf(&b, "tasks=$(submit \"$@\" --array=%s --dependency=afterany:\"$sweep\" \"$here/%s\")\n", arrayRange(o, sweep, n), SlurmArrayFile)
		fmt.Fprintf(&b, "echo \"learning-rate sweep: job $sweep (grid points 0-%d); the other points: job $tasks (%d-%d), once it has ended\"\n", sweep-1, sweep, n-1)
	} else {
		fmt.Fprintf(&b, "tasks=$(submit \"$@\" --array=%s \"$here/%s\")\n", arrayRange(o, 0, n), SlurmArrayFile)
		fmt.Fprintf(&b, "echo \"grid points 0-%d: job $tasks\"\n", n-1)
	}
	fmt.Fprintf(&b, "collect=$(submit \"$@\" --dependency=afterany:\"$%s\" \"$here/%s\")\n", last, SlurmCollectFile)
	fmt.Fprintf(&b, `echo "collect: job $collect, once every task has ended (it fails if grid points have no result)"
echo "watch: squeue --me; progress: %s; logs: %s/"
`, shellLine(o.Command, []string{"collect", "-dir", o.Dir, "-no-figures"}), filepath.Join(o.Dir, SlurmLogsDir))
	return b.String()
}
