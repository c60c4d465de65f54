package study

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ExportOptionError is a bad export option. Option is the name of the export flag that sets it (name, time, mount,
// data-dir, …), so that a program can report it as that flag's error.
type ExportOptionError struct {
	Option, Reason string
}

func (e *ExportOptionError) Error() string { return "export: -" + e.Option + ": " + e.Reason }

func optionError(option, format string, args ...any) error {
	return &ExportOptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

// dnsLabel is a DNS-1123 label without its length limit: what Kubernetes requires of a pod's hostname, which an
// Indexed Job makes of "<job name>-<index>", and of the job-name label it puts on every pod.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxLabel is the length limit of a DNS-1123 label (and of a label value).
const maxLabel = 63

// jobNames are the Jobs an export makes of the name, each with the number of completion indices its pods are
// numbered by (0 for a Job whose pods get no index suffix).
func jobNames(name string, n, sweep int) map[string]int {
	names := map[string]int{name: n, name + "-collect": 0}
	if sweep < n {
		names[name], names[name+sweepSuffix] = n-sweep, sweep
	}
	return names
}

// checkName refuses a name that Slurm's #SBATCH line or the Kubernetes API server would reject: the Jobs' names
// and their pods' hostnames ("<job>-<index>") must be DNS-1123 labels of at most 63 characters.
func checkName(name string, n, sweep int) error {
	if !dnsLabel.MatchString(name) {
		return optionError("name", "%q is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending "+
			"with a letter or digit): Kubernetes refuses it as a Job name, and Slurm's #SBATCH line breaks at a space", name)
	}
	longest := ""
	for job, indices := range jobNames(name, n, sweep) {
		host := job
		if indices > 0 {
			host += "-" + strconv.Itoa(indices-1)
		}
		if len(host) > len(longest) {
			longest = host
		}
	}
	if len(longest) > maxLabel {
		return optionError("name", "%q is too long: with this grid it makes the pod hostname %q, over the %d characters "+
			"Kubernetes allows; give at most %d characters", name, longest, maxLabel, len(name)-(len(longest)-maxLabel))
	}
	return nil
}

// slurmTime matches Slurm's time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
// days-hours:minutes, days-hours:minutes:seconds.
var slurmTime = regexp.MustCompile(`^(?:(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?|(\d+)(?::(\d+)(?::(\d+))?)?)$`)

// parseSlurmTime is the duration of a Slurm --time value.
func parseSlurmTime(s string) (time.Duration, bool) {
	m := slurmTime.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	num := func(i int) time.Duration {
		v, _ := strconv.Atoi(m[i])
		return time.Duration(v)
	}
	if m[1] != "" { // days-hours[:minutes[:seconds]]
		return num(1)*24*time.Hour + num(2)*time.Hour + num(3)*time.Minute + num(4)*time.Second, true
	}
	switch {
	case m[7] != "": // hours:minutes:seconds
		return num(5)*time.Hour + num(6)*time.Minute + num(7)*time.Second, true
	case m[6] != "": // minutes:seconds
		return num(5)*time.Minute + num(6)*time.Second, true
	}
	return num(5) * time.Minute, true
}

// checkTime refuses a -time that is not a Slurm time limit, or too short to leave training time after the
// warning signal the array tasks ask for (SlurmSignalLead before the limit).
func checkTime(s string) error {
	d, ok := parseSlurmTime(s)
	if !ok {
		return optionError("time", "%q is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)", s)
	}
	if shortest := 2 * SlurmSignalLead; d < shortest {
		return optionError("time", "%s is shorter than %d minutes: each task is told to checkpoint %d minutes before its limit",
			s, int(shortest.Minutes()), int(SlurmSignalLead.Minutes()))
	}
	return nil
}

// within reports whether path is dir or under it (both absolute and clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// commonDir is the deepest directory holding both absolute paths.
func commonDir(a, b string) string {
	for !within(b, a) {
		a = filepath.Dir(a)
	}
	return a
}

// resolveMount sets o.MountPath, the directory of the pods where the claim is mounted, and checks that the pods see
// what the tasks need there: the study directory, its runs directory and, unless the image holds it, the data
// (dataDir, "" for a dataset's default location, which must be in the image). Without -mount it is the parent of
// the study directory, or the deepest directory holding it and the data; a mount at / is refused.
func (o *ExportOptions) resolveMount(runsDir, dataDir string) error {
	need := []struct{ path, option string }{{o.Dir, "dir"}, {runsDir, "runs-dir"}}
	if dataDir != "" && !o.DataInImage {
		need = append(need, struct{ path, option string }{dataDir, "data-dir"})
	}
	if o.MountPath == "" {
		m := filepath.Dir(o.Dir)
		for _, n := range need[1:] {
			m = commonDir(m, n.path)
		}
		if m == filepath.Dir(m) {
			return optionError("mount", "the pods need %s, %s and %s from the claim, which share no directory below /: "+
				"give -mount (the claim's directory in the pods that holds them all), or -data-in-image when the "+
				"image holds the data", o.Dir, runsDir, dataDir)
		}
		o.MountPath = m
		return nil
	}
	if !filepath.IsAbs(o.MountPath) {
		return optionError("mount", "must be an absolute path in the pods, got %q", o.MountPath)
	}
	o.MountPath = filepath.Clean(o.MountPath)
	for _, n := range need {
		if !within(n.path, o.MountPath) {
			hint := ""
			if n.option == "data-dir" {
				hint = ", or -data-in-image when the image holds the data"
			}
			return optionError(n.option, "%s is not under -mount %s, so the pods would not see it: give a -mount "+
				"that holds it%s", n.path, o.MountPath, hint)
		}
	}
	return nil
}
