//go:build unix

package study

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The exported scripts, run with fake sbatch, scontrol and study programs (the real Slurm runs them in
// examples/study's TestSlurmRunsTheExportedGrid).

// fakeCommand writes an executable shell script name into dir.
func fakeCommand(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func readExported(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExportSlurmScripts(t *testing.T) {
	out := t.TempDir()
	if _, err := Export(out, sweptGrid(), ExportOptions{Parallelism: 2, TimeLimit: "2-00:00:00"}); err != nil {
		t.Fatal(err)
	}
	array, collect := readExported(t, out, SlurmArrayFile), readExported(t, out, SlurmCollectFile)
	for _, want := range []string{"#SBATCH --time=2-00:00:00\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@300\n",
		"#SBATCH --open-mode=append\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --output=" + out + "/slurm-logs/%A_%a.out\n"} {
		if !strings.Contains(array, want) {
			t.Errorf("%s lacks %q", SlurmArrayFile, want)
		}
	}
	// The collect job is small, whatever the training tasks ask for, and fails on a partial grid.
	for _, want := range []string{"#SBATCH --cpus-per-task=1\n", "#SBATCH --mem=1G\n", "#SBATCH --time=30:00\n",
		"collect -dir " + out + " -complete\n"} {
		if !strings.Contains(collect, want) {
			t.Errorf("%s lacks %q:\n%s", SlurmCollectFile, want, collect)
		}
	}

	// slurm-submit.sh with a fake sbatch that answers as on a multi-cluster site ("id;cluster"): the job ids it
	// passes on are the ids alone, and it makes the logs folder before submitting.
	if err := os.RemoveAll(filepath.Join(out, SlurmLogsDir)); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fakeCommand(t, bin, "sbatch", `echo "$*" >> `+calls+`
test -d `+filepath.Join(out, SlurmLogsDir)+` || { echo "no logs folder" >&2; exit 1; }
n=$(wc -l < `+calls+`); echo "$((4240 + n));cluster-a"
`)
	cmd := exec.Command(filepath.Join(out, SlurmSubmitFile), "--partition=cpu")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", SlurmSubmitFile, err, msg)
	}
	got := strings.Split(strings.TrimSpace(readExported(t, bin, "calls")), "\n")
	want := []string{
		"--parsable --partition=cpu --array=0-3%2 " + out + "/slurm-array.sh",
		"--parsable --partition=cpu --array=4-5%2 --dependency=afterany:4241 " + out + "/slurm-array.sh",
		"--parsable --partition=cpu --dependency=afterany:4242 " + out + "/slurm-collect.sh",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sbatch calls\n got %q\nwant %q", got, want)
	}
}

// runArray runs the exported slurm-array.sh as Slurm would for task 3 of job 77, with a fake study program (which
// writes "started", counts its SIGTERMs and exits 143 after the first, as the real one does after its
// checkpoint) and a fake scontrol; signal is sent to the script once the program has started.
func runArray(t *testing.T, signal string) (status int, terms, scontrol string) {
	t.Helper()
	out, bin := t.TempDir(), t.TempDir()
	if _, err := Export(out, sweptGrid(), ExportOptions{Command: filepath.Join(bin, "bnzoo-study")}); err != nil {
		t.Fatal(err)
	}
	fakeCommand(t, bin, "bnzoo-study", `trap 'echo TERM >> `+bin+`/terms; sleep 0.2; exit 143' TERM
echo started > `+bin+`/started
for i in $(seq 100); do sleep 0.1; done
`)
	fakeCommand(t, bin, "scontrol", `echo "$*" > `+bin+`/scontrol.calls`)
	cmd := exec.Command(filepath.Join(out, SlurmArrayFile))
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_JOB_ID=77", "SLURM_JOB_ID=80")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(bin, "started")); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the fake program did not start")
		}
	}
	switch signal {
	case "USR1": // --signal=B:USR1: the shell alone
		cmd.Process.Signal(syscall.SIGUSR1)
	case "TERM": // scancel: Slurm signals every process of the job, here the script's process group
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(bin, "terms"))
	s, _ := os.ReadFile(filepath.Join(bin, "scontrol.calls"))
	return status, string(b), strings.TrimSpace(string(s))
}

// TestArrayTaskRequeuesOnTheWarning: the time-limit warning (USR1 to the batch shell) stops the program with one
// SIGTERM (its checkpoint) and requeues exactly this array task; scancel's SIGTERM, which the program gets from
// Slurm itself, is not sent a second time (that would kill it before its checkpoint) and requeues nothing.
func TestArrayTaskRequeuesOnTheWarning(t *testing.T) {
	status, terms, scontrol := runArray(t, "USR1")
	if status != 143 || terms != "TERM\n" || scontrol != "requeue 77_3" {
		t.Errorf("on USR1: status %d, program signalled %q, scontrol %q; want 143, one TERM, requeue 77_3", status, terms, scontrol)
	}
	status, terms, scontrol = runArray(t, "TERM")
	if status != 143 || terms != "TERM\n" || scontrol != "" {
		t.Errorf("on TERM: status %d, program signalled %q, scontrol %q; want 143, one TERM, no requeue", status, terms, scontrol)
	}
}

// TestArrayTaskWithoutTheProgram: a node without the study program ends the task at once with status 2 and a
// message that says how to build it (go install names it study).
func TestArrayTaskWithoutTheProgram(t *testing.T) {
	out := t.TempDir()
	if _, err := Export(out, sweptGrid(), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(out, SlurmArrayFile))
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin", "SLURM_ARRAY_TASK_ID=0")
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(msg), "go build -o bnzoo-study ./examples/study") {
		t.Fatalf("%v\n%s", err, msg)
	}
}

// TestK8sSubmitScript runs k8s-submit.sh with a fake kubectl whose Jobs end as given: it deletes the study's Jobs
// left from an earlier submission, applies the sweep's Job, waits for it, the other points' Job, waits, then the
// collect Job, passes its arguments to every kubectl, and its wait returns on a failed Job too (the collect Job's
// failure is its exit status).
func TestK8sSubmitScript(t *testing.T) {
	out, bin := t.TempDir(), t.TempDir()
	if _, err := Export(out, sweptGrid(), ExportOptions{Dir: "/shared/bnzoo/order"}); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(bin, "calls")
	// The sweep's Job failed (an index failed for good), the other one completed, the collect Job failed.
	fakeCommand(t, bin, "kubectl", `echo "$*" >> `+calls+`
case "$*" in
  *"get job bnzoo-order-quick-sweep "*) echo "FailureTarget Failed" ;;
  *"get job bnzoo-order-quick "*) echo "Complete" ;;
  *"get job bnzoo-order-quick-collect "*) echo "Failed" ;;
esac
`)
	cmd := exec.Command(filepath.Join(out, K8sSubmitFile), "-n", "lab")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("%s with a failed collect Job: %v, want exit status 1\n%s", K8sSubmitFile, err, msg)
	}
	b, _ := os.ReadFile(calls)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		got = append(got, strings.Join(strings.Fields(l)[:4], " "))
	}
	want := []string{"-n lab delete job", "-n lab apply -f", "-n lab get job", "-n lab apply -f", "-n lab get job",
		"-n lab apply -f", "-n lab get job", "-n lab logs job/bnzoo-order-quick-collect"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kubectl calls\n got %q\nwant %q\n(all: %s)", got, want, b)
	}
	for i, f := range []string{K8sSweepFile, K8sJobFile, K8sCollectFile} {
		if l := strings.Split(string(b), "\n")[1+2*i]; !strings.HasSuffix(l, "/"+f) {
			t.Errorf("apply %d: %q, want %s", i, l, f)
		}
	}
	if !strings.Contains(string(b), "delete job --ignore-not-found --cascade=foreground --wait bnzoo-order-quick-sweep bnzoo-order-quick bnzoo-order-quick-collect") {
		t.Errorf("no deletion of the earlier Jobs:\n%s", b)
	}
}
