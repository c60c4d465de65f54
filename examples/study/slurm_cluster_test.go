//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// slurmCluster is a one-node Slurm on localhost (munged, slurmctld, slurmd) started by the test as child processes,
// with its configuration (testdata/slurm/slurm.conf.tmpl), state, sockets and logs in a temporary directory.
type slurmCluster struct {
	dir     string
	daemons []*exec.Cmd // in start order; stopped in reverse
}

// slurmTools are the programs the cluster needs: Debian's munge, slurmctld, slurmd and slurm-client.
var slurmTools = []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo"}

// startSlurm starts the cluster and sets SLURM_CONF for this test (the Slurm commands, and through sbatch the jobs,
// find it there). t.Cleanup cancels what is left and stops the daemons by PID.
func startSlurm(t *testing.T) *slurmCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("BNZOO_SLURM_TEST=1 needs root: the test starts munged, slurmctld and slurmd as root")
	}
	for _, tool := range slurmTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("BNZOO_SLURM_TEST=1 needs %s: apt-get install slurmctld slurmd slurm-client munge (%v)", tool, err)
		}
	}
	// A short path: the munge socket's must fit a Unix socket address (108 bytes).
	dir, err := os.MkdirTemp("", "bnzoo-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &slurmCluster{dir: dir}
	t.Cleanup(func() { c.stop(t) })
	for _, d := range []string{"state", "spool"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 1024)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(dir, "munge.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	c.start(t, "munged", "-F", "-f", "--key-file="+dir+"/munge.key", "--socket="+dir+"/munge.socket",
		"--pid-file="+dir+"/munged.pid", "--log-file="+dir+"/munged.log", "--seed-file="+dir+"/munged.seed")
	c.waitFor(t, 20*time.Second, "munged's socket", func() bool { _, err := os.Stat(dir + "/munge.socket"); return err == nil })

	conf := filepath.Join(dir, "slurm.conf")
	if err := os.WriteFile(conf, slurmConf(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", conf)
	c.start(t, "slurmctld", "-D", "-f", conf)
	c.start(t, "slurmd", "-D", "-f", conf)
	c.waitFor(t, 60*time.Second, "the node to be idle", func() bool {
		out, _ := exec.Command("sinfo", "-h", "-o", "%t").Output()
		return strings.TrimSpace(string(out)) == "idle"
	})
	return c
}

// slurmConf fills in the configuration template: this machine's node line (slurmd -C), its short host name and
// two free ports.
func slurmConf(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := exec.Command("slurmd", "-C").Output()
	if err != nil {
		t.Fatalf("slurmd -C: %v", err)
	}
	nodeLine := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	node := regexp.MustCompile(`^NodeName=(\S+) `).FindStringSubmatch(nodeLine)
	if node == nil {
		t.Fatalf("slurmd -C printed %q, no NodeName", nodeLine)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "slurm", "slurm.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, map[string]any{"Dir": dir, "Host": strings.SplitN(host, ".", 2)[0], "Node": node[1],
		"NodeLine": nodeLine, "CtldPort": freePort(t), "SlurmdPort": freePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a daemon in the foreground as a child process, its output in <dir>/<name>.out.
func (c *slurmCluster) start(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(c.dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.daemons = append(c.daemons, cmd)
}

func (c *slurmCluster) waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	for start := time.Now(); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Since(start) > limit {
			c.dump(t)
			t.Fatalf("no %s after %v", what, limit)
		}
	}
}

// waitIdle waits until no job is pending or running.
func (c *slurmCluster) waitIdle(t *testing.T, limit time.Duration) {
	t.Helper()
	c.waitFor(t, limit, "empty queue", func() bool {
		out, err := exec.Command("squeue", "-h").Output()
		return err == nil && strings.TrimSpace(string(out)) == ""
	})
}

// job is the state and exit code of a job ("scontrol show job"; one line per array task).
func (c *slurmCluster) job(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("scontrol", "-o", "show", "job", id).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol show job %s: %v\n%s", id, err, out)
	}
	var states []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(l) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		s := f["JobState"] + " " + f["ExitCode"]
		if task := f["ArrayTaskId"]; task != "" {
			s = task + ":" + s
		}
		states = append(states, s)
	}
	return strings.Join(states, ", ")
}

// dump logs the daemons' logs, for a failure.
func (c *slurmCluster) dump(t *testing.T) {
	for _, name := range []string{"slurmctld.log", "slurmd.log", "munged.out", "slurmctld.out", "slurmd.out"} {
		b, _ := os.ReadFile(filepath.Join(c.dir, name))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("%s:\n%s", name, b)
	}
}

// stop cancels every job, waits for them to end, and stops the daemons by PID (SIGTERM, then SIGKILL).
func (c *slurmCluster) stop(t *testing.T) {
	if t.Failed() {
		c.dump(t)
	}
	if len(c.daemons) == 3 {
		exec.Command("scancel", "--user=root").Run()
		for start := time.Now(); time.Since(start) < 45*time.Second; time.Sleep(500 * time.Millisecond) {
			if out, err := exec.Command("squeue", "-h").Output(); err != nil || strings.TrimSpace(string(out)) == "" {
				break
			}
		}
	}
	for i := len(c.daemons) - 1; i >= 0; i-- {
		d := c.daemons[i]
		d.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- d.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			d.Process.Kill()
			<-done
			t.Logf("%s did not stop on SIGTERM; killed", filepath.Base(d.Path))
		}
	}
}

// sh runs a command and returns its output; a failure ends the test.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jobID is the job id that the submission's output line starting with prefix names ("… job 12 …").
func jobID(t *testing.T, out, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `.*?job (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line with a job id in:\n%s", prefix, out)
	}
	return m[1]
}

// warnTimeLimit sends array task id the time-limit warning (USR1 to its batch shell, as --signal=B:USR1 would).
// Slurm answers "Job can not be altered now, try again later" while a job is still configuring — even once its
// program runs, on a fast node — and scancel then retries for about 45 s, keeps failing once the task has requeued
// itself, and exits non-zero although the signal got through. So the test waits for the RUNNING state, and only
// logs scancel's status: the task's own log (checked by the caller) must show the checkpoint and the requeue.
func warnTimeLimit(t *testing.T, c *slurmCluster, id string) {
	t.Helper()
	c.waitFor(t, time.Minute, "RUNNING state of "+id, func() bool {
		out, err := exec.Command("squeue", "-h", "-j", id, "-o", "%T").Output()
		return err == nil && strings.TrimSpace(string(out)) == "RUNNING"
	})
	if out, err := exec.Command("scancel", "--signal=USR1", "--batch", id).CombinedOutput(); err != nil {
		t.Logf("scancel --signal=USR1 --batch %s: %v (%s); the task's log decides whether the warning arrived", id, err,
			strings.TrimSpace(string(out)))
	}
}
