package datasets

import (
	"archive/tar"
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Helpers shared by the tests: datasets written in their official layouts
// as directories and tar / tar.gz archives, and images with known pixels.

// fixture is a set of files (path → content) and empty folders, written
// as a directory or an archive.
type fixture struct {
	files map[string][]byte
	dirs  []string // extra (possibly empty) folders
	last  []string // files written at the end of an archive, in this order
}

// newFixture returns an empty fixture.
func newFixture() *fixture { return &fixture{files: map[string][]byte{}} }

// add adds a file.
func (f *fixture) add(name string, b []byte) *fixture {
	f.files[name] = b
	return f
}

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name     string
	body     []byte
	typeflag byte
}

// entries lists the fixture as archive entries: every folder before its
// contents, in lexical order, except the files of f.last, at the end.
func (f *fixture) entries() []tarEntry {
	dirs := map[string]bool{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for n := range f.files {
		addParents(n)
	}
	for _, d := range f.dirs {
		dirs[d] = true
		addParents(d)
	}
	var names []string
	for d := range dirs {
		names = append(names, d+"/")
	}
	for n := range f.files {
		if !slices.Contains(f.last, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = append(names, f.last...)
	out := make([]tarEntry, len(names))
	for i, n := range names {
		if strings.HasSuffix(n, "/") {
			out[i] = tarEntry{name: n, typeflag: tar.TypeDir}
		} else {
			out[i] = tarEntry{name: n, body: f.files[n], typeflag: tar.TypeReg}
		}
	}
	return out
}

// tarBytes builds a tar archive of entries, gzip-compressed if gz.
func tarBytes(t testing.TB, entries []tarEntry, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o644, Size: int64(len(e.body))}
		switch e.typeflag {
		case tar.TypeDir:
			hdr.Mode, hdr.Size = 0o755, 0
		case tar.TypeSymlink:
			hdr.Linkname, hdr.Size = string(e.body), 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return buf.Bytes()
	}
	return gzipBytes(t, buf.Bytes())
}

// writeTar writes the fixture as an archive file in a new temporary
// directory and returns its path.
func (f *fixture) writeTar(t testing.TB, name string, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, tarBytes(t, f.entries(), gz), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeDir writes the fixture below a new temporary directory and returns
// that directory.
func (f *fixture) writeDir(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range f.entries() {
		p := filepath.Join(root, filepath.FromSlash(e.name))
		var err error
		if e.typeflag == tar.TypeDir {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, e.body, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// allForms writes the fixture as a directory, a .tar and a .tar.gz and
// returns the three paths by form name.
func (f *fixture) allForms(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{
		"dir":    f.writeDir(t),
		"tar":    f.writeTar(t, "data.tar", false),
		"tar.gz": f.writeTar(t, "data.tar.gz", true),
	}
}

// patternCHW returns a w×h 3-channel image (CHW) whose pixels depend on
// seed, position and channel, all distinct enough to catch mix-ups.
func patternCHW(seed, w, h int) []uint8 {
	hw := w * h
	out := make([]uint8, 3*hw)
	for c := range 3 {
		for i := range hw {
			out[c*hw+i] = uint8(seed*37 + c*91 + i*13 + (i/w)*7)
		}
	}
	return out
}

// pngCHW encodes the 3-channel CHW image pix of w×h pixels as an opaque
// RGB PNG.
func pngCHW(t testing.TB, pix []uint8, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	hw := w * h
	for y := range h {
		for x := range w {
			i := y*w + x
			img.SetNRGBA(x, y, color.NRGBA{pix[i], pix[hw+i], pix[2*hw+i], 0xff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegOf encodes img as a JPEG of quality 90.
func jpegOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegCHW encodes the CHW image pix as a colour JPEG and returns it with
// the pixels a decoder must produce from it, computed independently of
// toCHW: image.Image.At and color.YCbCrToRGB.
func jpegCHW(t testing.TB, pix []uint8, w, h int) (file []byte, want []uint8) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	hw := w * h
	for y := range h {
		for x := range w {
			i := y*w + x
			img.SetRGBA(x, y, color.RGBA{pix[i], pix[hw+i], pix[2*hw+i], 0xff})
		}
	}
	file = jpegOf(t, img)
	return file, referenceCHW(t, file)
}

// grayJPEG encodes a one-channel (grayscale) JPEG of w×h pixels and
// returns it with its decoded gray values replicated into three planes.
func grayJPEG(t testing.TB, seed, w, h int) (file []byte, want []uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(seed*29 + i*5)
	}
	file = jpegOf(t, img)
	dec, err := jpeg.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := dec.(*image.Gray)
	if !ok {
		t.Fatalf("grayscale JPEG decodes as %T", dec)
	}
	plane := make([]uint8, 0, w*h)
	for y := range h {
		plane = append(plane, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return file, slices.Concat(plane, plane, plane)
}

// referenceCHW decodes a JPEG file with the standard library and converts
// it pixel by pixel through At, as a reference for toCHW.
func referenceCHW(t testing.TB, file []byte) []uint8 {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	hw := w * h
	out := make([]uint8, 3*hw)
	for y := range h {
		for x := range w {
			var r, g, bl uint8
			switch c := img.At(b.Min.X+x, b.Min.Y+y).(type) {
			case color.YCbCr:
				r, g, bl = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			case color.Gray:
				r, g, bl = c.Y, c.Y, c.Y
			default:
				t.Fatalf("unexpected JPEG colour %T", c)
			}
			i := y*w + x
			out[i], out[hw+i], out[2*hw+i] = r, g, bl
		}
	}
	return out
}

// wantErr fails t unless err is non-nil and contains every one of parts.
func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not contain %q", what, err, p)
		}
	}
}
