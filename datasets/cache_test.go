package datasets

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cachedLoad loads the image folder at p with opts and returns the
// training split and the cache status, failing t on error.
func cachedLoad(t *testing.T, p string, opts LoadOptions) (*decodedSet, cacheStatus) {
	t.Helper()
	d, status, err := loadDecodedStatus(p, layoutImageFolder, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, status
}

// onlyCacheFile returns the single cache file of dir, failing t if there is
// not exactly one file (a leftover temporary file counts).
func onlyCacheFile(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || !strings.HasSuffix(names[0], cacheExt) {
		t.Fatalf("cache directory holds %q, want one %s file", names, cacheExt)
	}
	return filepath.Join(dir, names[0])
}

func TestCacheRoundTripAndStaleness(t *testing.T) {
	f, wantTrain, wantTest := imageFolderFixture(t, "")
	for form, p := range f.allForms(t) {
		opts := LoadOptions{CacheDir: filepath.Join(t.TempDir(), "cache")}
		d, status := cachedLoad(t, p, opts)
		if status != cacheMissing {
			t.Fatalf("%s: first load: status %v, want missing", form, status)
		}
		cfile := onlyCacheFile(t, opts.CacheDir)
		if !strings.HasPrefix(filepath.Base(cfile), filepath.Base(p)+".imagefolder.") {
			t.Errorf("%s: cache file %s", form, cfile)
		}
		d2, status := cachedLoad(t, p, opts)
		if status != cacheHit {
			t.Fatalf("%s: second load: status %v, want hit", form, status)
		}
		for i, s := range []*Split{d2.train, d2.test} {
			want := []folderWant{wantTrain, wantTest}[i]
			ref := []*Split{d.train, d.test}[i]
			if !slices.Equal(s.Images, want.images) || !slices.Equal(s.Labels, want.labels) || !slices.Equal(s.Classes, ref.Classes) ||
				s.N != ref.N || s.C != ref.C || s.H != ref.H || s.W != ref.W || d2.roles != d.roles {
				t.Fatalf("%s: cached split %d differs", form, i)
			}
		}
		// The public loader gives the same splits from the cache.
		train, test, err := LoadImageFolder(p, opts)
		if err != nil || !slices.Equal(train.Images, wantTrain.images) || test.Name != "imagefolder/test" {
			t.Fatalf("%s: LoadImageFolder from cache: %v", form, err)
		}

		// A newer modification time makes the cache stale (for a
		// directory, that of any file).
		touched := p
		if form == "dir" {
			touched = filepath.Join(p, "train", "ant", "a1.png")
		}
		later := time.Now().Add(time.Hour)
		if err := os.Chtimes(touched, later, later); err != nil {
			t.Fatal(err)
		}
		if _, status = cachedLoad(t, p, opts); status != cacheStale {
			t.Fatalf("%s: after touching %s: status %v, want stale", form, touched, status)
		}
		if _, status = cachedLoad(t, p, opts); status != cacheHit {
			t.Fatalf("%s: after rebuilding: status %v, want hit", form, status)
		}
		onlyCacheFile(t, opts.CacheDir) // no temporary file left
	}
}

func TestCacheDirectorySourceChanges(t *testing.T) {
	f, _, _ := imageFolderFixture(t, "")
	p := f.writeDir(t)
	// A cache directory inside the source must not make it stale.
	opts := LoadOptions{CacheDir: filepath.Join(p, ".cache")}
	cachedLoad(t, p, opts)
	if _, status := cachedLoad(t, p, opts); status != cacheHit {
		t.Fatalf("cache inside the source: status %v, want hit", status)
	}
	// Adding an image makes it stale, and the rebuilt cache holds it.
	if err := os.WriteFile(filepath.Join(p, "train", "cat", "c2.png"), pngCHW(t, patternCHW(9, 5, 4), 5, 4), 0o644); err != nil {
		t.Fatal(err)
	}
	d, status := cachedLoad(t, p, opts)
	if status != cacheStale || d.train.N != 6 {
		t.Fatalf("after adding an image: status %v N=%d, want stale and 6", status, d.train.N)
	}
}

func TestCacheCorruptionIsRebuilt(t *testing.T) {
	f, wantTrain, _ := imageFolderFixture(t, "")
	p := f.writeTar(t, "data.tar", false)
	opts := LoadOptions{CacheDir: t.TempDir()}
	cachedLoad(t, p, opts)
	cfile := onlyCacheFile(t, opts.CacheDir)
	good, err := os.ReadFile(cfile)
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	payload := cachePrefixLen + hlen
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   cacheStatus
	}{
		{"payload byte flipped", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, cacheCorrupt},
		{"label byte flipped", func(b []byte) []byte { b[payload] ^= 1; return b }, cacheCorrupt},
		{"header byte flipped", func(b []byte) []byte { b[cachePrefixLen+5] ^= 0x20; return b }, cacheCorrupt},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, cacheCorrupt},
		{"extra byte", func(b []byte) []byte { return append(b, 0) }, cacheCorrupt},
		{"wrong magic", func(b []byte) []byte { b[0] = 'X'; return b }, cacheCorrupt},
		{"huge header length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<31); return b }, cacheCorrupt},
		{"other version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], cacheVersion+1); return b }, cacheStale},
		{"empty file", func([]byte) []byte { return nil }, cacheCorrupt},
		{"not a cache", func([]byte) []byte { return []byte("hello") }, cacheCorrupt},
	}
	for _, tc := range tests {
		if err := os.WriteFile(cfile, tc.mutate(slices.Clone(good)), 0o644); err != nil {
			t.Fatal(err)
		}
		d, status := cachedLoad(t, p, opts)
		if status != tc.want || !slices.Equal(d.train.Images, wantTrain.images) {
			t.Errorf("%s: status %v, want %v and the right pixels", tc.name, status, tc.want)
		}
		if b, _ := os.ReadFile(cfile); !slices.Equal(b, good) {
			t.Errorf("%s: the rebuilt cache differs from the original", tc.name)
		}
	}
}

func TestCacheBesideSource(t *testing.T) {
	f, _, _ := imageFolderFixture(t, "")
	for form, p := range f.allForms(t) {
		opts := LoadOptions{CacheBesideSource: true}
		cachedLoad(t, p, opts)
		want := p + ".imagefolder" + cacheExt
		if _, err := os.Stat(want); err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if _, status := cachedLoad(t, p, opts); status != cacheHit {
			t.Fatalf("%s: status %v, want hit", form, status)
		}
	}
}

func TestCacheErrors(t *testing.T) {
	f, _, _ := imageFolderFixture(t, "")
	p := f.writeTar(t, "data.tar", false)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadImageFolder(p, LoadOptions{CacheDir: notDir})
	wantErr(t, "cache dir is a file", err, "cache directory", notDir)
	_, _, err = LoadImageFolder(p, LoadOptions{Workers: -1})
	wantErr(t, "negative workers", err, "Workers = -1")
	// Two layouts of one source use two cache files.
	g, _, _ := tinyFixture(t, "")
	q := g.writeTar(t, "tiny.tar", false)
	opts := LoadOptions{CacheDir: t.TempDir()}
	if _, _, err := LoadTinyImageNet(q, opts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTinyImageNet(q, opts); err != nil {
		t.Fatal(err)
	}
	if _, status, err := loadDecodedStatus(q, layoutTinyImageNet, opts); err != nil || status != cacheHit {
		t.Fatalf("tiny-imagenet cache: %v %v", status, err)
	}
	if _, _, err := loadDecodedStatus(q, "nope", opts); err == nil {
		t.Fatal("unknown layout accepted")
	}
}
