package datasets

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// walked is one entry seen by a walk, with its content.
type walked struct {
	name string
	dir  bool
	size int64
	body string
}

// walkAll walks src and returns every entry with its content.
func walkAll(src source) ([]walked, error) {
	var out []walked
	err := src.walk(func(e sourceEntry, open func() (io.Reader, error)) error {
		w := walked{name: e.Name, dir: e.Dir, size: e.Size}
		if !e.Dir {
			b, err := readEntry(open, e.Size, 1<<20, src.entryPath(e.Name))
			if err != nil {
				return err
			}
			w.body = string(b)
		}
		out = append(out, w)
		return nil
	})
	return out, err
}

func TestWalkSourcesAgree(t *testing.T) {
	f := newFixture().add("b/x.txt", []byte("hello")).add("a/y/z.bin", []byte{0, 1, 2}).add("top.txt", nil)
	f.dirs = []string{"empty"}
	want := []walked{
		{name: "a", dir: true}, {name: "a/y", dir: true}, {name: "a/y/z.bin", size: 3, body: "\x00\x01\x02"},
		{name: "b", dir: true}, {name: "b/x.txt", size: 5, body: "hello"},
		{name: "empty", dir: true}, {name: "top.txt"},
	}
	for form, p := range f.allForms(t) {
		src, err := openSource(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := walkAll(src)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: walked %+v\nwant %+v", form, got, want)
		}
	}
}

func TestWalkTarCleansNamesAndSkipsLinks(t *testing.T) {
	data := tarBytes(t, []tarEntry{
		{name: "./", typeflag: tar.TypeDir},
		{name: "./train/", typeflag: tar.TypeDir},
		{name: "./train/a.txt", body: []byte("a"), typeflag: tar.TypeReg},
		{name: "/abs//b.txt", body: []byte("b"), typeflag: tar.TypeReg},
		{name: "../up/c.txt", body: []byte("c"), typeflag: tar.TypeReg},
		{name: "train/link.txt", body: []byte("a.txt"), typeflag: tar.TypeSymlink},
	}, false)
	got, err := walkAll(bytesSource("mem.tar", data))
	if err != nil {
		t.Fatal(err)
	}
	want := []walked{
		{name: "train", dir: true}, {name: "train/a.txt", size: 1, body: "a"},
		{name: "abs/b.txt", size: 1, body: "b"}, {name: "up/c.txt", size: 1, body: "c"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walked %+v, want %+v", got, want)
	}
}

func TestCleanTarName(t *testing.T) {
	for in, want := range map[string]string{
		"train/x.jpg": "train/x.jpg", "./train/x.jpg": "train/x.jpg", "/train//x.jpg": "train/x.jpg",
		"train/": "train", ".": "", "./": "", "/": "", "a/../b": "b", "../../etc/passwd": "etc/passwd",
	} {
		if got := cleanTarName(in); got != want {
			t.Errorf("cleanTarName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWalkTarErrors(t *testing.T) {
	good := tarBytes(t, []tarEntry{{name: "a.txt", body: make([]byte, 3000), typeflag: tar.TypeReg}}, false)
	goodGz := gzipBytes(t, good)
	badCRC := slices.Clone(goodGz)
	badCRC[len(badCRC)-6] ^= 0xff // inside the CRC-32 of the gzip trailer
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "empty tar archive"},
		{"not a tar", []byte("this is not an archive, just some text that is long enough to fill a header block......................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"), "reading tar archive"},
		{"truncated tar", good[:1024], "a.txt"},
		{"truncated tar.gz", goodGz[:len(goodGz)/2], "unexpected EOF"},
		{"gzip checksum", badCRC, "gzip"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0}, "bad gzip header"},
	}
	for _, tc := range tests {
		_, err := walkAll(bytesSource("/x/data.tar", tc.data))
		wantErr(t, tc.name, err, "/x/data.tar", tc.want)
	}
}

func TestOpenSourceErrors(t *testing.T) {
	_, err := openSource(filepath.Join(t.TempDir(), "missing"))
	if !os.IsNotExist(err) {
		t.Errorf("missing path: %v, want a not-exist error", err)
	}
}

func TestRootCandidatesAndResolve(t *testing.T) {
	anchors := []string{"train", "test", "wnids.txt"}
	for name, want := range map[string][]string{
		"train/cat/1.jpg":       {""},
		"wnids.txt":             {""},
		"top/train/cat/1.jpg":   {"top/"},
		"top/wnids.txt":         {"top/"},
		"train/test/1.jpg":      {"", "train/"},
		"a/b/train/1.jpg":       nil,
		".hidden/train/1.jpg":   nil,
		"other.txt":             nil,
		"trainee/cat/1.jpg":     nil,
		"tiny/val/images/x.jpg": nil,
	} {
		if got := rootCandidates(name, anchors); !slices.Equal(got, want) {
			t.Errorf("rootCandidates(%q) = %q, want %q", name, got, want)
		}
	}
	tests := []struct {
		cands map[string]bool
		want  string
		err   string
	}{
		{map[string]bool{"": true, "w/": true}, "", ""},
		{map[string]bool{"w/": true}, "w/", ""},
		{map[string]bool{}, "", "none of train, test, wnids.txt found"},
		{map[string]bool{"a/": true, "b/": true}, "", "several top folders hold a dataset (a, b)"},
	}
	for _, tc := range tests {
		got, err := resolveRoot("src", tc.cands, anchors)
		if tc.err != "" {
			wantErr(t, "resolveRoot", err, "src", tc.err)
		} else if err != nil || got != tc.want {
			t.Errorf("resolveRoot(%v) = %q, %v; want %q", tc.cands, got, err, tc.want)
		}
	}
}

func TestWalkDirSymlinkedRoot(t *testing.T) {
	f := newFixture().add("a/x.txt", []byte("x"))
	real := f.writeDir(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	src, err := openSource(link)
	if err != nil {
		t.Fatal(err)
	}
	got, err := walkAll(src)
	if err != nil || len(got) != 2 || got[1].body != "x" {
		t.Fatalf("walk of a symbolic link to a directory: %+v, %v", got, err)
	}
	if fp, err := fingerprintSource(link); err != nil || fp.Files != 1 {
		t.Fatalf("fingerprint of a symbolic link to a directory: %+v, %v", fp, err)
	}
}
