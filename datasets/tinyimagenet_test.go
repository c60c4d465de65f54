package datasets

import (
	"slices"
	"strings"
	"testing"
)

// tinyFixture returns a Tiny ImageNet dataset of 6×6 JPEGs in the official
// layout under prefix, with wnids.txt written last in archives (as in the
// real subset): 3 classes listed out of sorted order, a grayscale JPEG,
// bounding-box files, words.txt, unlabelled test images, and annotations
// out of file order. It also returns the expected splits.
func tinyFixture(t testing.TB, prefix string) (f *fixture, train, val folderWant) {
	const w, h = 6, 6
	f = newFixture()
	f.add(prefix+"wnids.txt", []byte("n02\nn01\r\nn03\n"))
	f.add(prefix+"words.txt", []byte("n01\tone\nn02\ttwo\nn03\tthree\n"))
	f.last = []string{prefix + "wnids.txt"}
	seed := 0
	jpg := func(name string) []uint8 {
		seed++
		file, want := jpegCHW(t, patternCHW(seed, w, h), w, h)
		f.add(prefix+name, file)
		return want
	}
	add := func(into *folderWant, label int, want []uint8) {
		into.images = append(into.images, want...)
		into.labels = append(into.labels, label)
	}
	// Training images in expected order: wnids order, then path.
	add(&train, 0, jpg("train/n02/images/n02_0.JPEG"))
	add(&train, 0, jpg("train/n02/images/n02_1.JPEG"))
	gray, grayWant := grayJPEG(t, 7, w, h)
	f.add(prefix+"train/n01/images/n01_0.JPEG", gray)
	add(&train, 1, grayWant)
	add(&train, 1, jpg("train/n01/images/n01_1.JPEG"))
	add(&train, 1, jpg("train/n01/images/n01_10.JPEG"))
	add(&train, 2, jpg("train/n03/images/n03_0.JPEG"))
	for _, wn := range []string{"n01", "n02", "n03"} {
		f.add(prefix+"train/"+wn+"/"+wn+"_boxes.txt", []byte(wn+"_0.JPEG\t0\t0\t5\t5\n"))
	}
	// Validation images in annotation order.
	v := map[string][]uint8{}
	for _, n := range []string{"val_0", "val_1", "val_2", "val_3"} {
		v[n] = jpg("val/images/" + n + ".JPEG")
	}
	f.add(prefix+"val/val_annotations.txt", []byte(
		"val_2.JPEG\tn03\t0\t0\t5\t5\nval_0.JPEG\tn02\t1\t1\t4\t4\r\nval_3.JPEG\tn01\t0\t0\t5\t5\n\nval_1.JPEG\tn02\t0\t0\t5\t5\n"))
	add(&val, 2, v["val_2"])
	add(&val, 0, v["val_0"])
	add(&val, 1, v["val_3"])
	add(&val, 0, v["val_1"])
	jpg("test/images/test_0.JPEG")
	return f, train, val
}

func TestLoadTinyImageNet(t *testing.T) {
	for _, prefix := range []string{"tiny-imagenet-200/", ""} {
		f, wantTrain, wantVal := tinyFixture(t, prefix)
		for form, p := range f.allForms(t) {
			what := form + " " + prefix
			train, val, err := LoadTinyImageNet(p, LoadOptions{Workers: 2})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for _, c := range []struct {
				s    *Split
				name string
				want folderWant
			}{{train, "tiny-imagenet/train", wantTrain}, {val, "tiny-imagenet/val", wantVal}} {
				s := c.s
				if s.Name != c.name || s.C != 3 || s.H != 6 || s.W != 6 || !slices.Equal(s.Classes, []string{"n02", "n01", "n03"}) {
					t.Fatalf("%s: %q %d×%d×%d classes %q", what, s.Name, s.C, s.H, s.W, s.Classes)
				}
				if !slices.Equal(s.Labels, c.want.labels) || !slices.Equal(s.Images, c.want.images) {
					t.Errorf("%s %s: labels %v (want %v) or pixels differ", what, c.name, s.Labels, c.want.labels)
				}
				if !slices.Equal(s.Mean, TinyImageNetMean[:]) || !slices.Equal(s.Std, TinyImageNetStd[:]) {
					t.Errorf("%s: mean %v std %v", what, s.Mean, s.Std)
				}
			}
			// The grayscale JPEG has three identical channels.
			img := train.Image(2)
			if !slices.Equal(img[:36], img[36:72]) || !slices.Equal(img[:36], img[72:]) {
				t.Errorf("%s: grayscale image channels differ", what)
			}
		}
	}
}

func TestLoadTinyImageNetErrors(t *testing.T) {
	const ann = "val/val_annotations.txt"
	replaceAnn := func(f *fixture, old, new string) {
		f.files[ann] = []byte(strings.Replace(string(f.files[ann]), old, new, 1))
	}
	tests := []struct {
		name   string
		modify func(f *fixture)
		want   []string
	}{
		{"annotation naming a missing file", func(f *fixture) { delete(f.files, "val/images/val_3.JPEG") },
			[]string{ann, "line 3: names val/images/val_3.JPEG, which is missing"}},
		{"annotation with an unknown class", func(f *fixture) { replaceAnn(f, "val_3.JPEG\tn01", "val_3.JPEG\tn09") },
			[]string{ann, `line 3: class "n09" of val_3.JPEG is not listed in wnids.txt (label out of range)`}},
		{"validation image without annotation", func(f *fixture) { f.add("val/images/val_9.JPEG", f.files["val/images/val_0.JPEG"]) },
			[]string{"val/images/val_9.JPEG: has no line in", ann}},
		{"annotated twice", func(f *fixture) { replaceAnn(f, "val_3.JPEG", "val_2.JPEG") },
			[]string{ann, "line 3: val_2.JPEG is annotated twice (first on line 1)"}},
		{"malformed annotation", func(f *fixture) { replaceAnn(f, "val_3.JPEG\tn01\t0\t0\t5\t5", "val_3.JPEG") },
			[]string{ann, "line 3: want"}},
		{"missing annotations", func(f *fixture) { delete(f.files, ann) },
			[]string{ann + ": not found"}},
		{"missing wnids.txt", func(f *fixture) { delete(f.files, "wnids.txt"); f.last = nil },
			[]string{"wnids.txt: not found"}},
		{"empty wnids.txt", func(f *fixture) { f.add("wnids.txt", []byte("\n \n")) },
			[]string{"wnids.txt: no class names"}},
		{"class folder not in wnids.txt", func(f *fixture) { f.add("train/n09/images/n09_0.JPEG", f.files["train/n03/images/n03_0.JPEG"]) },
			[]string{"train/n09", `class folder "n09" is not listed in`}},
		{"empty class folder", func(f *fixture) {
			delete(f.files, "train/n03/images/n03_0.JPEG")
			f.dirs = append(f.dirs, "train/n03/images")
		}, []string{"train/n03", `no training images for class "n03"`}},
		{"unreadable image", func(f *fixture) { f.add("train/n01/images/n01_5.JPEG", []byte("GIF89a")) },
			[]string{"train/n01/images/n01_5.JPEG", "unreadable image"}},
		{"image of another size", func(f *fixture) {
			file, _ := jpegCHW(t, patternCHW(1, 8, 6), 8, 6)
			f.add("val/images/val_0.JPEG", file)
		}, []string{"val/images/val_0.JPEG: image is 8×6 pixels but the first image, val/images/val_2.JPEG, is 6×6"}},
	}
	for _, tc := range tests {
		f, _, _ := tinyFixture(t, "")
		tc.modify(f)
		for form, p := range f.allForms(t) {
			train, val, err := LoadTinyImageNet(p, LoadOptions{})
			if train != nil || val != nil {
				t.Errorf("%s (%s): splits returned with error %v", tc.name, form, err)
			}
			wantErr(t, tc.name+" ("+form+")", err, append(tc.want, p, "tiny-imagenet:")...)
		}
	}
}
