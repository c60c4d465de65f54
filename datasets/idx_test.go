package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file in the official layout: big-endian magic,
// big-endian uint32 dimensions, then the data bytes.
func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		_ = binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

// gzipBytes compresses b with gzip.
func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// writeIDX writes an IDX file (gzip-compressed if gz) to dir/name and
// returns its path.
func writeIDX(t testing.TB, dir, name string, magic uint32, dims []uint32, data []byte, gz bool) string {
	t.Helper()
	b := idxBytes(magic, dims, data)
	if gz {
		b = gzipBytes(t, b)
	}
	return writeRaw(t, dir, name, b)
}

// writeRaw writes b to dir/name and returns its path.
func writeRaw(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// seq returns the bytes start, start+1, ... (mod 256), n of them.
func seq(n, start int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

func TestReadIDXImages(t *testing.T) {
	tests := []struct {
		name             string
		file             string // deliberately unrelated to the compression
		gz               bool
		n, rows, cols    int
		data             []byte
		wantFirst, wantL byte // first and last pixel
	}{
		{name: "raw 2x3x2", file: "a.gz", gz: false, n: 2, rows: 3, cols: 2, data: seq(12, 10), wantFirst: 10, wantL: 21},
		{name: "gzip 3x2x4", file: "b-idx3-ubyte", gz: true, n: 3, rows: 2, cols: 4, data: seq(24, 250), wantFirst: 250, wantL: 17},
		{name: "gzip 1x28x28", file: "c", gz: true, n: 1, rows: 28, cols: 28, data: seq(784, 0), wantFirst: 0, wantL: byte(783 % 256)},
		{name: "raw zero images", file: "d", gz: false, n: 0, rows: 28, cols: 28, data: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeIDX(t, t.TempDir(), tc.file, IDXImagesMagic, []uint32{uint32(tc.n), uint32(tc.rows), uint32(tc.cols)}, tc.data, tc.gz)
			img, n, rows, cols, err := ReadIDXImages(p)
			if err != nil {
				t.Fatalf("ReadIDXImages: %v", err)
			}
			if n != tc.n || rows != tc.rows || cols != tc.cols {
				t.Fatalf("shape = %d×%d×%d, want %d×%d×%d", n, rows, cols, tc.n, tc.rows, tc.cols)
			}
			if !bytes.Equal(img, tc.data) {
				t.Fatalf("pixels = %v, want %v", img, tc.data)
			}
			if len(img) > 0 && (img[0] != tc.wantFirst || img[len(img)-1] != tc.wantL) {
				t.Fatalf("first/last pixel = %d/%d, want %d/%d", img[0], img[len(img)-1], tc.wantFirst, tc.wantL)
			}
		})
	}
}

func TestReadIDXLabels(t *testing.T) {
	tests := []struct {
		name string
		gz   bool
		data []byte
	}{
		{name: "raw", gz: false, data: []byte{5, 0, 4, 1, 9}},
		{name: "gzip", gz: true, data: []byte{7, 2, 1, 0, 4, 1}},
		{name: "gzip empty", gz: true, data: []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeIDX(t, t.TempDir(), "labels", IDXLabelsMagic, []uint32{uint32(len(tc.data))}, tc.data, tc.gz)
			got, err := ReadIDXLabels(p)
			if err != nil {
				t.Fatalf("ReadIDXLabels: %v", err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("labels = %v, want %v", got, tc.data)
			}
		})
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(IDXImagesMagic, []uint32{2, 2, 2}, seq(8, 1))
	corrupt := gzipBytes(t, good)
	corrupt[len(corrupt)-8] ^= 0xff // break the CRC-32 in the gzip trailer
	tests := []struct {
		name   string
		file   []byte // nil: file not created
		labels bool   // read as labels instead of images
		want   []string
	}{
		{name: "missing file", file: nil, want: []string{"no such file"}},
		{name: "empty file", file: []byte{}, want: []string{"truncated header", "expected 4 bytes, got 0"}},
		{name: "short magic", file: []byte{0, 0, 8}, want: []string{"truncated header", "expected 4 bytes, got 3"}},
		{name: "short dims", file: idxBytes(IDXImagesMagic, []uint32{2}, nil), want: []string{"truncated header (dimensions)", "expected 12 bytes, got 4"}},
		{name: "labels file read as images", file: idxBytes(IDXLabelsMagic, []uint32{3}, []byte{1, 2, 3}), want: []string{"wrong magic", "expected 2051", "got 2049"}},
		{name: "images file read as labels", labels: true, file: good, want: []string{"wrong magic", "expected 2049", "got 2051"}},
		{name: "gzip labels read as images", file: gzipBytes(t, idxBytes(IDXLabelsMagic, []uint32{1}, []byte{1})), want: []string{"wrong magic", "expected 2051", "got 2049"}},
		{name: "not idx", file: []byte("hello, world"), want: []string{"wrong magic", "not an IDX file"}},
		{name: "truncated raw", file: good[:len(good)-3], want: []string{"truncated data", "expected 8 bytes", "got 5"}},
		{name: "truncated gzip", file: gzipBytes(t, good[:len(good)-3]), want: []string{"truncated data", "expected 8 bytes", "got 5"}},
		{name: "truncated gzip stream", file: gzipBytes(t, good)[:20], want: []string{"truncated data", "expected 8 bytes"}},
		{name: "truncated labels", labels: true, file: idxBytes(IDXLabelsMagic, []uint32{10}, []byte{1, 2}), want: []string{"truncated data", "expected 10 bytes", "got 2"}},
		{name: "trailing data", file: append(slices.Clone(good), 99), want: []string{"trailing data", "8 bytes"}},
		{name: "gzip bad checksum", file: corrupt, want: []string{"checksum"}},
		{name: "zero rows", file: idxBytes(IDXImagesMagic, []uint32{2, 0, 5}, nil), want: []string{"rows and cols must be positive"}},
		{name: "absurd dims raw", file: idxBytes(IDXImagesMagic, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, seq(4, 0)), want: []string{"refusing to read"}},
		{name: "absurd dims gzip", file: gzipBytes(t, idxBytes(IDXImagesMagic, []uint32{1 << 20, 1 << 10, 1 << 10}, seq(4, 0))), want: []string{"refusing to read"}},
		{name: "large declared raw", file: idxBytes(IDXImagesMagic, []uint32{60000, 28, 28}, seq(10, 0)), want: []string{"truncated data", "expected 47040000 bytes", "got 10"}},
		{name: "large declared gzip", file: gzipBytes(t, idxBytes(IDXImagesMagic, []uint32{1 << 16, 1 << 8, 1 << 8}, seq(10, 0))), want: []string{"truncated data", "expected 4294967296 bytes", "got 10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "data-idx-ubyte")
			if tc.file != nil {
				writeRaw(t, filepath.Dir(p), filepath.Base(p), tc.file)
			}
			var err error
			if tc.labels {
				_, err = ReadIDXLabels(p)
			} else {
				_, _, _, _, err = ReadIDXImages(p)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append([]string{p}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestReadIDXMissingIsNotExist(t *testing.T) {
	_, err := ReadIDXLabels(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestDescribeMagic(t *testing.T) {
	tests := []struct {
		m    uint32
		want string
	}{
		{IDXImagesMagic, "0x00000803, uint8 images file"},
		{IDXLabelsMagic, "0x00000801, uint8 labels file"},
		{0x00000d02, "0x00000d02, IDX type 0x0d with 2 dimensions"},
		{0x1234abcd, "0x1234abcd, not an IDX file"},
	}
	for _, tc := range tests {
		if got := describeMagic(tc.m); got != tc.want {
			t.Errorf("describeMagic(%#x) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// FuzzReadIDX feeds arbitrary bytes to the IDX decoder (raw and, via the
// gzip detection, compressed) as both kinds of file: it must never panic,
// must name the input in every error, and on success must return exactly
// the number of bytes the header declares.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(IDXImagesMagic, []uint32{2, 2, 2}, seq(8, 0)), true)
	f.Add(idxBytes(IDXLabelsMagic, []uint32{3}, []byte{1, 2, 3}), false)
	f.Add(gzipBytes(f, idxBytes(IDXImagesMagic, []uint32{1, 3, 3}, seq(9, 7))), false)
	f.Add(gzipBytes(f, idxBytes(IDXLabelsMagic, []uint32{2}, []byte{4, 5})), true)
	f.Add(idxBytes(IDXImagesMagic, []uint32{0xffffffff, 0xffffffff, 1}, nil), true)
	f.Add([]byte{0x1f, 0x8b}, false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, knownSize bool) {
		for _, magic := range []uint32{IDXImagesMagic, IDXLabelsMagic} {
			size := int64(-1)
			if knownSize {
				size = int64(len(data))
			}
			got, err := decodeIDX(bytes.NewReader(data), "fuzz-input", magic, size)
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz-input") {
					t.Fatalf("error %q does not name the input", err)
				}
				continue
			}
			want := 1
			for _, d := range got.dims {
				want *= d
			}
			if len(got.dims) != int(magic&0xff) || len(got.data) != want {
				t.Fatalf("dims %v with %d data bytes", got.dims, len(got.data))
			}
		}
	})
}
