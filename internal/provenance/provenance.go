// Package provenance records what produced a result: bnzoo's version and source revision, the Go toolchain, the
// kernels (pure Go or oneDNN, with its version) and the machine. A run's or report's numbers are only comparable
// with others when these are known: oneDNN's float32 results differ from the Go kernels' in the last bits, and
// throughput depends on the CPU and GOMAXPROCS.
package provenance

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/bnzoo/bnzoo/layers"
)

// Info is the provenance of one process. Its JSON form is what run.json holds under "provenance".
type Info struct {
	Module   string `json:"module"`             // the main module, e.g. github.com/bnzoo/bnzoo
	Version  string `json:"version"`            // its version, "(devel)" when built from a checkout
	Revision string `json:"revision,omitempty"` // the VCS revision built from, when the build recorded it
	VCSTime  string `json:"vcs_time,omitempty"` // that revision's commit time (RFC 3339)
	// Dirty is set when the checkout had uncommitted changes (the build's vcs.modified); the revision alone
	// does not reproduce the binary then.
	Dirty      bool   `json:"dirty,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Backend    string `json:"backend"` // float32 kernels: "go", or the oneDNN version of a -tags dnnl build
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	CPU        string `json:"cpu,omitempty"` // the CPU model, where the OS says (Linux's /proc/cpuinfo)
}

// Collect returns the provenance of the running process. It never fails: what cannot be known is left empty
// (test binaries, for instance, carry no VCS information).
func Collect() Info {
	info := Info{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Backend: layers.ConvBackend(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), CPU: cpuModel()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fromBuildInfo(&info, bi)
	}
	return info
}

// fromBuildInfo fills in the module and VCS fields from a binary's build information.
func fromBuildInfo(info *Info, bi *debug.BuildInfo) {
	info.Module, info.Version = bi.Main.Path, bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.VCSTime = s.Value
		case "vcs.modified":
			info.Dirty = s.Value == "true"
		}
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	return modelName(f)
}

// modelName reads a /proc/cpuinfo listing.
func modelName(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return ""
}
