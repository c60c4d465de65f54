package datasets

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// folderWant is the expected content of one split of a fixture.
type folderWant struct {
	images []uint8
	labels []int
}

// imageFolderFixture returns an image-folder dataset of 5×4 images under
// prefix ("" or "wrapper/"), with the splits LoadImageFolder must give.
// Classes are written out of order (dog, ant, cat) and sort to ant, cat,
// dog; images are PNG (exact pixels), colour JPEG, grayscale JPEG and an
// upper-case extension, one of them in a sub-folder of its class; a text
// file, a hidden file and a README must be ignored; cat has no test images.
func imageFolderFixture(t testing.TB, prefix string) (*fixture, folderWant, folderWant) {
	const w, h = 5, 4
	f := newFixture()
	var train, test folderWant
	addPNG := func(name string, seed, label int, into *folderWant) {
		pix := patternCHW(seed, w, h)
		f.add(prefix+name, pngCHW(t, pix, w, h))
		into.images = append(into.images, pix...)
		into.labels = append(into.labels, label)
	}
	// In expected (class, path) order.
	addPNG("train/ant/a1.png", 1, 0, &train)
	addPNG("train/ant/more/a2.png", 2, 0, &train)
	gray, grayWant := grayJPEG(t, 3, w, h)
	f.add(prefix+"train/cat/c1.jpg", gray)
	train.images = append(train.images, grayWant...)
	train.labels = append(train.labels, 1)
	addPNG("train/dog/d1.png", 4, 2, &train)
	addPNG("train/dog/d2.PNG", 5, 2, &train)
	addPNG("test/ant/t1.png", 6, 0, &test)
	jpg, jpgWant := jpegCHW(t, patternCHW(7, w, h), w, h)
	f.add(prefix+"test/dog/t2.jpeg", jpg)
	test.images = append(test.images, jpgWant...)
	test.labels = append(test.labels, 2)
	f.add(prefix+"train/notes.txt", []byte("not a class"))
	f.add(prefix+"train/dog/.DS_Store", []byte{0, 1})
	f.add(prefix+"train/dog/boxes.txt", []byte("ignored"))
	f.add(prefix+"README", []byte("readme"))
	return f, train, test
}

// checkFolderSplit fails t unless s holds want with the fixture's classes.
func checkFolderSplit(t *testing.T, what string, s *Split, name string, want folderWant) {
	t.Helper()
	if s.Name != name || s.C != 3 || s.H != 4 || s.W != 5 || s.N != len(want.labels) {
		t.Fatalf("%s: %q %d×%d×%d N=%d, want %q 3×4×5 N=%d", what, s.Name, s.C, s.H, s.W, s.N, name, len(want.labels))
	}
	if !slices.Equal(s.Classes, []string{"ant", "cat", "dog"}) {
		t.Errorf("%s: classes %q", what, s.Classes)
	}
	if !slices.Equal(s.Labels, want.labels) {
		t.Errorf("%s: labels %v, want %v", what, s.Labels, want.labels)
	}
	if !slices.Equal(s.Images, want.images) {
		t.Errorf("%s: pixels differ", what)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func TestLoadImageFolder(t *testing.T) {
	for _, prefix := range []string{"", "mydata/"} {
		f, wantTrain, wantTest := imageFolderFixture(t, prefix)
		for form, p := range f.allForms(t) {
			what := form + " " + prefix
			train, test, err := LoadImageFolder(p, LoadOptions{})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			checkFolderSplit(t, what+" train", train, "imagefolder/train", wantTrain)
			checkFolderSplit(t, what+" test", test, "imagefolder/test", wantTest)
			mean, std := ChannelStats(train)
			if !slices.Equal(train.Mean, mean) || !slices.Equal(test.Std, std) {
				t.Errorf("%s: mean/std %v %v, want the training statistics %v %v", what, train.Mean, test.Std, mean, std)
			}
			if &train.Classes[0] == &test.Classes[0] {
				t.Errorf("%s: splits share their class list", what)
			}
		}
	}
}

func TestLoadImageFolderVal(t *testing.T) {
	f, wantTrain, wantTest := imageFolderFixture(t, "")
	g := newFixture()
	for n, b := range f.files {
		g.add(strings.Replace(n, "test/", "val/", 1), b)
	}
	train, val, err := LoadImageFolder(g.writeTar(t, "v.tar", false), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkFolderSplit(t, "train", train, "imagefolder/train", wantTrain)
	checkFolderSplit(t, "val", val, "imagefolder/val", wantTest)
	// With both, test/ wins.
	g.files = maps.Clone(f.files)
	g.add("val/ant/v.png", pngCHW(t, patternCHW(9, 5, 4), 5, 4))
	if _, test, err := LoadImageFolder(g.writeDir(t), LoadOptions{}); err != nil || test.Name != "imagefolder/test" {
		t.Fatalf("test/ and val/: %v, %v", test, err)
	}
}

func TestImageFolderDeterministicWorkers(t *testing.T) {
	f := newFixture()
	for i := range 60 {
		f.add("train/c"+string(rune('a'+i%4))+"/"+string(rune('a'+i/4))+".png", pngCHW(t, patternCHW(i, 3, 2), 3, 2))
		f.add("test/c"+string(rune('a'+i%4))+"/"+string(rune('a'+i/4))+".png", pngCHW(t, patternCHW(i+100, 3, 2), 3, 2))
	}
	p := f.writeTar(t, "d.tar.gz", true)
	ref, _, err := LoadImageFolder(p, LoadOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{2, 3, 8} {
		got, _, err := LoadImageFolder(p, LoadOptions{Workers: w})
		if err != nil || !slices.Equal(got.Images, ref.Images) || !slices.Equal(got.Labels, ref.Labels) {
			t.Fatalf("Workers=%d: result differs from Workers=1 (%v)", w, err)
		}
	}
	// Several unreadable images: the error is always the first in archive order.
	f.add("train/cb/bad1.png", []byte("junk")).add("train/cd/bad2.png", []byte("junk")).add("train/ca/zzz.png", []byte("junk"))
	p = f.writeTar(t, "bad.tar", false)
	for _, w := range []int{1, 2, 8, 8, 8} {
		_, _, err := LoadImageFolder(p, LoadOptions{Workers: w})
		wantErr(t, "several bad images", err, "bad.tar: train/ca/zzz.png: unreadable image")
	}
}

func TestLoadImageFolderErrors(t *testing.T) {
	other := pngCHW(t, patternCHW(1, 6, 4), 6, 4)
	tests := []struct {
		name   string
		modify func(f *fixture)
		want   []string
	}{
		{"unreadable image", func(f *fixture) { f.add("train/dog/bad.jpg", []byte("\xff\xd8\xffjunk")) },
			[]string{"train/dog/bad.jpg", "unreadable JPEG image"}},
		{"not an image", func(f *fixture) { f.add("train/dog/bad.png", []byte("hello")) },
			[]string{"train/dog/bad.png", "neither JPEG nor PNG"}},
		{"empty class folder", func(f *fixture) { f.dirs = append(f.dirs, "train/zebra") },
			[]string{"train/zebra", "empty class folder"}},
		{"class folder with no images", func(f *fixture) { f.add("train/zebra/info.txt", nil) },
			[]string{"train/zebra", "empty class folder"}},
		{"empty test class folder", func(f *fixture) { f.dirs = append(f.dirs, "test/cat") },
			[]string{"test/cat", "empty class folder"}},
		{"test class unknown to train", func(f *fixture) { f.add("test/zebra/z.png", other) },
			[]string{"test/zebra", `class folder "zebra" is not one of the 3 classes of train/`}},
		{"image of another size", func(f *fixture) { f.add("train/dog/d3.png", other) },
			[]string{"train/dog/d3.png", "is 6×4 pixels but the first image, train/ant/a1.png, is 5×4", "same size"}},
		{"no train", func(f *fixture) {
			for n := range f.files {
				if strings.HasPrefix(n, "train/") {
					delete(f.files, n)
				}
			}
		}, []string{"no train/ folder"}},
		{"no test", func(f *fixture) {
			for n := range f.files {
				if strings.HasPrefix(n, "test/") {
					delete(f.files, n)
				}
			}
		}, []string{"no test/ or val/ folder"}},
		{"two wrappers", func(f *fixture) {
			for n, b := range f.files {
				delete(f.files, n)
				f.add("a/"+n, b)
				f.add("b/"+n, b)
			}
		}, []string{"several top folders hold a dataset (a, b)"}},
		{"nothing", func(f *fixture) { f.files = map[string][]byte{"x.txt": nil} }, []string{"none of train, test, val found"}},
	}
	for _, tc := range tests {
		f, _, _ := imageFolderFixture(t, "")
		tc.modify(f)
		for form, p := range f.allForms(t) {
			train, test, err := LoadImageFolder(p, LoadOptions{})
			if train != nil || test != nil {
				t.Errorf("%s (%s): splits returned with error %v", tc.name, form, err)
			}
			wantErr(t, tc.name+" ("+form+")", err, append(tc.want, p, "imagefolder:")...)
		}
	}
	// Train and test images of different sizes.
	f, _, _ := imageFolderFixture(t, "")
	for n := range f.files {
		if strings.HasPrefix(n, "test/") {
			delete(f.files, n)
		}
	}
	f.add("test/ant/x.png", other)
	_, _, err := LoadImageFolder(f.writeDir(t), LoadOptions{})
	wantErr(t, "train/test sizes", err, "train images are 3×4×5 but test images are 3×4×6")
	_, _, err = LoadImageFolder(f.writeDir(t)+"/missing", LoadOptions{})
	wantErr(t, "missing path", err, "missing", "no such file")
}

// FuzzTarImageFolder feeds arbitrary bytes to the image-folder reader as a
// tar or tar.gz archive: it must return consistent splits or an error,
// never panic. The seed corpus (valid archives, and ones with a bad image,
// a truncation, an empty class) runs in every go test.
func FuzzTarImageFolder(f *testing.F) {
	small := func(extra map[string][]byte) *fixture {
		fx := newFixture()
		fx.add("train/a/1.png", pngCHW(f, patternCHW(1, 2, 2), 2, 2))
		fx.add("train/b/2.png", pngCHW(f, patternCHW(2, 2, 2), 2, 2))
		fx.add("test/a/3.png", pngCHW(f, patternCHW(3, 2, 2), 2, 2))
		for n, b := range extra {
			fx.add(n, b)
		}
		return fx
	}
	valid := tarBytes(f, small(nil).entries(), false)
	f.Add(valid)
	f.Add(tarBytes(f, small(nil).entries(), true))
	f.Add(valid[:len(valid)/2])
	f.Add(tarBytes(f, small(map[string][]byte{"train/c/x.jpg": []byte("\xff\xd8\xff")}).entries(), false))
	f.Add(tarBytes(f, small(map[string][]byte{"w/train/c/x.png": nil}).entries(), false))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeChecked(bytesSource("fuzz.tar", data), decodeImageFolder, 2)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tar") {
				t.Fatalf("error %q does not name the archive", err)
			}
			return
		}
		train, test := d.finish("fuzz", nil, nil)
		if err := train.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := test.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestImageFolderErrorsReadWell: the error for a missing test/ in an archive read "x.tar: : no test/ …", and an
// unreadable image's error quoted its first bytes — for a symlink to a system file, that file's contents.
func TestImageFolderErrorsReadWell(t *testing.T) {
	f, _, _ := imageFolderFixture(t, "")
	for n := range f.files {
		if strings.HasPrefix(n, "test/") {
			delete(f.files, n)
		}
	}
	for form, p := range f.allForms(t) {
		_, _, err := LoadImageFolder(p, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), p+": no test/ or val/ folder") {
			t.Errorf("%s: %v, want %q", form, err, p+": no test/ or val/ folder")
		}
	}
	f, _, _ = imageFolderFixture(t, "")
	f.add("train/dog/secret.png", []byte("root:x:0:0:root"))
	for form, p := range f.allForms(t) {
		_, _, err := LoadImageFolder(p, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "neither JPEG nor PNG") || strings.Contains(err.Error(), "root:x") {
			t.Errorf("%s: %v, want an error that does not quote the file", form, err)
		}
	}
}
