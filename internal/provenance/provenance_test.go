package provenance

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCollect(t *testing.T) {
	info := Collect()
	if info.GoVersion != runtime.Version() || info.GOMAXPROCS != runtime.GOMAXPROCS(0) || info.NumCPU < 1 ||
		info.OS != runtime.GOOS || info.Arch != runtime.GOARCH {
		t.Fatalf("Collect() = %+v", info)
	}
	if info.Backend != "go" && !strings.HasPrefix(info.Backend, "oneDNN") {
		t.Fatalf("backend %q, want go or oneDNN …", info.Backend)
	}
	if runtime.GOOS == "linux" && info.CPU == "" && !strings.Contains(runtime.GOARCH, "arm") {
		t.Error("no CPU model on linux/amd64")
	}
	b, err := json.Marshal(info)
	if err != nil || !strings.Contains(string(b), `"go_version":"go`) || !strings.Contains(string(b), `"backend":`) {
		t.Fatalf("JSON %s, %v", b, err)
	}
}

func TestFromBuildInfo(t *testing.T) {
	var info Info
	fromBuildInfo(&info, &debug.BuildInfo{Main: debug.Module{Path: "github.com/bnzoo/bnzoo", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "f21d6d3abc"},
			{Key: "vcs.time", Value: "2026-12-06T07:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	want := Info{Module: "github.com/bnzoo/bnzoo", Version: "(devel)", Revision: "f21d6d3abc",
		VCSTime: "2026-12-06T07:00:00Z", Dirty: true}
	if info != want {
		t.Fatalf("fromBuildInfo = %+v, want %+v", info, want)
	}
	fromBuildInfo(&info, &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "false"}}})
	if info.Dirty {
		t.Fatal("vcs.modified=false left Dirty set")
	}
}

func TestModelName(t *testing.T) {
	const cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R45 96-Core Processor\n" +
		"processor\t: 1\nmodel name\t: AMD EPYC 9R45 96-Core Processor\n"
	if got := modelName(strings.NewReader(cpuinfo)); got != "AMD EPYC 9R45 96-Core Processor" {
		t.Fatalf("modelName = %q", got)
	}
	if got := modelName(strings.NewReader("processor : 0\n")); got != "" {
		t.Fatalf("modelName without one = %q", got)
	}
}
