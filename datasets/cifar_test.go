package datasets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarBatchFile builds a batch file in the official format: one record
// per entry of labels (its label bytes, then a 3,072-byte image whose
// pixels come from patternCHW(seed+i)). It returns the file and the images.
func cifarBatchFile(labels [][]byte, seed int) (file, images []byte) {
	for i, lb := range labels {
		pix := patternCHW(seed+i, 32, 32)
		file = append(file, lb...)
		file = append(file, pix...)
		images = append(images, pix...)
	}
	return file, images
}

// oneByteLabels turns labels into single-byte CIFAR-10 label fields.
func oneByteLabels(ls ...int) [][]byte {
	out := make([][]byte, len(ls))
	for i, l := range ls {
		out[i] = []byte{byte(l)}
	}
	return out
}

// cifar10Fixture returns the six CIFAR-10 batch files (with 2, 1, 3, 1, 2
// training and 2 test records) and batches.meta.txt under prefix, with the
// expected splits.
func cifar10Fixture(prefix string) (f *fixture, train, test folderWant) {
	f = newFixture()
	batchLabels := [][]int{{6, 9}, {0}, {9, 1, 2}, {3}, {4, 5}}
	for b, ls := range batchLabels {
		file, imgs := cifarBatchFile(oneByteLabels(ls...), 10*b)
		f.add(fmt.Sprintf("%sdata_batch_%d.bin", prefix, b+1), file)
		train.images = append(train.images, imgs...)
		train.labels = append(train.labels, ls...)
	}
	file, imgs := cifarBatchFile(oneByteLabels(7, 8), 100)
	f.add(prefix+"test_batch.bin", file)
	test = folderWant{images: imgs, labels: []int{7, 8}}
	// The official file ends with blank lines.
	f.add(prefix+"batches.meta.txt", []byte("c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n\n"))
	f.add(prefix+"readme.html", []byte("<html>"))
	return f, train, test
}

// checkCIFARSplit fails t unless s is a 3×32×32 split holding want.
func checkCIFARSplit(t *testing.T, what string, s *Split, name string, classes []string, mean, std [3]float64, want folderWant) {
	t.Helper()
	if s.Name != name || s.C != 3 || s.H != 32 || s.W != 32 || s.N != len(want.labels) {
		t.Fatalf("%s: %q %d×%d×%d N=%d, want %q 3×32×32 N=%d", what, s.Name, s.C, s.H, s.W, s.N, name, len(want.labels))
	}
	if !slices.Equal(s.Labels, want.labels) || !slices.Equal(s.Images, want.images) {
		t.Errorf("%s: labels %v (want %v) or pixels differ", what, s.Labels, want.labels)
	}
	if !slices.Equal(s.Classes, classes) || !slices.Equal(s.Mean, mean[:]) || !slices.Equal(s.Std, std[:]) {
		t.Errorf("%s: classes %q mean %v std %v, want %q %v %v", what, s.Classes, s.Mean, s.Std, classes, mean, std)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestLoadCIFAR10Binary(t *testing.T) {
	custom := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	for _, prefix := range []string{"", "cifar-10-batches-bin/"} {
		f, wantTrain, wantTest := cifar10Fixture(prefix)
		for form, p := range f.allForms(t) {
			what := form + " " + prefix
			for _, load := range []func(string) (*Split, *Split, error){
				LoadCIFAR10Binary,
				func(p string) (*Split, *Split, error) { return LoadCIFAR10(p, LoadOptions{}) },
				func(p string) (*Split, *Split, error) { return Load("cifar10", p) },
			} {
				train, test, err := load(p)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				checkCIFARSplit(t, what+" train", train, "cifar10/train", custom, CIFAR10Mean, CIFAR10Std, wantTrain)
				checkCIFARSplit(t, what+" test", test, "cifar10/test", custom, CIFAR10Mean, CIFAR10Std, wantTest)
			}
		}
	}
	// Without batches.meta.txt the official names are used.
	f, _, _ := cifar10Fixture("")
	delete(f.files, "batches.meta.txt")
	train, _, err := LoadCIFAR10Binary(f.writeDir(t))
	if err != nil || !slices.Equal(train.Classes, CIFAR10Classes) {
		t.Fatalf("no meta: classes %v, %v", train, err)
	}
}

// cifar100Fixture returns train.bin (3 records) and test.bin (2) under
// prefix, with both labels of every record.
func cifar100Fixture(prefix string) (f *fixture, fine, coarse [2]folderWant) {
	f = newFixture()
	trainLabels := [][]byte{{19, 99}, {0, 0}, {7, 42}}
	testLabels := [][]byte{{3, 1}, {11, 57}}
	for i, ls := range [][][]byte{trainLabels, testLabels} {
		file, imgs := cifarBatchFile(ls, 50*i)
		f.add(prefix+[]string{"train.bin", "test.bin"}[i], file)
		for _, l := range ls {
			coarse[i].labels = append(coarse[i].labels, int(l[0]))
			fine[i].labels = append(fine[i].labels, int(l[1]))
		}
		fine[i].images, coarse[i].images = imgs, imgs
	}
	return f, fine, coarse
}

func TestLoadCIFAR100(t *testing.T) {
	if len(CIFAR100FineClasses) != 100 || len(CIFAR100CoarseClasses) != 20 || len(CIFAR10Classes) != 10 {
		t.Fatalf("class lists of %d, %d, %d names", len(CIFAR100FineClasses), len(CIFAR100CoarseClasses), len(CIFAR10Classes))
	}
	if CIFAR100FineClasses[99] != "worm" || CIFAR100FineClasses[42] != "leopard" || CIFAR100CoarseClasses[19] != "vehicles_2" {
		t.Fatal("class lists out of order")
	}
	for _, prefix := range []string{"", "cifar-100-binary/"} {
		f, fine, coarse := cifar100Fixture(prefix)
		for form, p := range f.allForms(t) {
			what := form + " " + prefix
			train, test, err := Load("cifar100", p)
			if err != nil {
				t.Fatalf("%s fine: %v", what, err)
			}
			checkCIFARSplit(t, what+" fine train", train, "cifar100/train", CIFAR100FineClasses, CIFAR100Mean, CIFAR100Std, fine[0])
			checkCIFARSplit(t, what+" fine test", test, "cifar100/test", CIFAR100FineClasses, CIFAR100Mean, CIFAR100Std, fine[1])
			train, test, err = Load("cifar100-coarse", p)
			if err != nil {
				t.Fatalf("%s coarse: %v", what, err)
			}
			checkCIFARSplit(t, what+" coarse train", train, "cifar100-coarse/train", CIFAR100CoarseClasses, CIFAR100Mean, CIFAR100Std, coarse[0])
			checkCIFARSplit(t, what+" coarse test", test, "cifar100-coarse/test", CIFAR100CoarseClasses, CIFAR100Mean, CIFAR100Std, coarse[1])
		}
	}
	// Class names from the official name files.
	f, _, _ := cifar100Fixture("cifar-100-binary/")
	var fineNames, coarseNames []string
	for i := range 100 {
		fineNames = append(fineNames, fmt.Sprintf("fine%02d", i))
	}
	for i := range 20 {
		coarseNames = append(coarseNames, fmt.Sprintf("coarse%02d", i))
	}
	f.add("cifar-100-binary/fine_label_names.txt", []byte(strings.Join(fineNames, "\n")+"\n"))
	f.add("cifar-100-binary/coarse_label_names.txt", []byte(strings.Join(coarseNames, "\r\n")))
	p := f.writeTar(t, "cifar-100-binary.tar.gz", true)
	if train, _, err := LoadCIFAR100(p, CIFAR100Fine); err != nil || !slices.Equal(train.Classes, fineNames) {
		t.Errorf("fine names: %v, %v", train, err)
	}
	if train, _, err := LoadCIFAR100(p, CIFAR100Coarse); err != nil || !slices.Equal(train.Classes, coarseNames) {
		t.Errorf("coarse names: %v, %v", train, err)
	}
	_, _, err := LoadCIFAR100(p, CIFAR100Labels(7))
	wantErr(t, "bad label choice", err, "unknown label choice 7")
}

func TestCIFARBinaryErrors(t *testing.T) {
	rec10 := func(ls ...int) []byte { b, _ := cifarBatchFile(oneByteLabels(ls...), 0); return b }
	tests := []struct {
		name   string
		c100   bool
		modify func(f *fixture)
		want   []string
	}{
		{"size not whole records", false, func(f *fixture) { f.add("data_batch_2.bin", append(rec10(1, 2), 1, 2, 3, 4, 5)) },
			[]string{"data_batch_2.bin", "size 6151 bytes is not a whole, positive number of 3073-byte cifar10 records (2 records and 5 bytes left over)"}},
		{"empty batch", false, func(f *fixture) { f.add("test_batch.bin", nil) },
			[]string{"test_batch.bin", "size 0 bytes"}},
		{"label out of range", false, func(f *fixture) { f.add("data_batch_4.bin", rec10(3, 10)) },
			[]string{"data_batch_4.bin", "record 1: label 10 out of range [0, 10)"}},
		{"missing batch", false, func(f *fixture) { delete(f.files, "data_batch_3.bin") },
			[]string{"data_batch_3.bin: missing"}},
		{"meta with 9 names", false, func(f *fixture) { f.add("batches.meta.txt", []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\n")) },
			[]string{"batches.meta.txt", "9 class names, want 10"}},
		{"meta with a repeated name", false, func(f *fixture) { f.add("batches.meta.txt", []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\na\n")) },
			[]string{"batches.meta.txt", `line 10: class "a" repeats line 1`}},
		{"no batches at all", false, func(f *fixture) { f.files = map[string][]byte{"x.txt": nil} },
			[]string{"none of data_batch_1.bin"}},
		{"fine label out of range", true, func(f *fixture) { b, _ := cifarBatchFile([][]byte{{1, 2}, {3, 100}}, 0); f.add("test.bin", b) },
			[]string{"test.bin", "record 1: fine label 100 out of range [0, 100)"}},
		{"coarse label out of range", true, func(f *fixture) { b, _ := cifarBatchFile([][]byte{{20, 2}}, 0); f.add("train.bin", b) },
			[]string{"train.bin", "record 0: coarse label 20 out of range [0, 20)"}},
		{"CIFAR-10 records in a CIFAR-100 file", true, func(f *fixture) { f.add("train.bin", rec10(1, 2)) },
			[]string{"train.bin", "not a whole, positive number of 3074-byte cifar100 records"}},
		{"missing test.bin", true, func(f *fixture) { delete(f.files, "test.bin") },
			[]string{"test.bin: missing"}},
	}
	for _, tc := range tests {
		var f *fixture
		if tc.c100 {
			f, _, _ = cifar100Fixture("")
		} else {
			f, _, _ = cifar10Fixture("")
		}
		tc.modify(f)
		for form, p := range f.allForms(t) {
			var train, test *Split
			var err error
			if tc.c100 {
				train, test, err = LoadCIFAR100(p, CIFAR100Fine)
			} else {
				train, test, err = LoadCIFAR10Binary(p)
			}
			if train != nil || test != nil {
				t.Errorf("%s (%s): splits returned with error %v", tc.name, form, err)
			}
			wantErr(t, tc.name+" ("+form+")", err, append(tc.want, p)...)
		}
	}
	// A member cut short inside the archive.
	f, _, _ := cifar10Fixture("")
	data := tarBytes(t, f.entries(), false)
	// Entries: batches.meta.txt (1,024 bytes with its header),
	// data_batch_1.bin (512+6,656), then data_batch_2.bin's header at 8,192.
	_, _, err := loadCIFARBinaryBytes(t, data[:8704+1000])
	wantErr(t, "member cut short", err, "cut.tar: data_batch_2.bin: truncated: 1000 of 3073 bytes")
	_, _, err = loadCIFARBinaryBytes(t, data[:8192+100])
	wantErr(t, "header cut short", err, "cut.tar: reading tar archive after data_batch_1.bin (2 entries)")
}

// loadCIFARBinaryBytes writes data as cut.tar and loads it as CIFAR-10.
func loadCIFARBinaryBytes(t *testing.T, data []byte) (*Split, *Split, error) {
	p := filepath.Join(t.TempDir(), "cut.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadCIFAR10Binary(p)
}

func TestLoadCIFAR10Images(t *testing.T) {
	f := newFixture()
	var wantTrain, wantTest folderWant
	for c, name := range CIFAR10Classes {
		pix := patternCHW(c, 32, 32)
		f.add("train/"+name+"/0000.png", pngCHW(t, pix, 32, 32))
		wantTrain.images = append(wantTrain.images, pix...)
		wantTrain.labels = append(wantTrain.labels, c)
		pix = patternCHW(c+50, 32, 32)
		f.add("test/"+name+"/0000.png", pngCHW(t, pix, 32, 32))
		wantTest.images = append(wantTest.images, pix...)
		wantTest.labels = append(wantTest.labels, c)
	}
	for form, p := range f.allForms(t) {
		train, test, err := Load("cifar10", p)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		checkCIFARSplit(t, form+" train", train, "cifar10/train", CIFAR10Classes, CIFAR10Mean, CIFAR10Std, wantTrain)
		checkCIFARSplit(t, form+" test", test, "cifar10/test", CIFAR10Classes, CIFAR10Mean, CIFAR10Std, wantTest)
	}
	g, _, _ := imageFolderFixture(t, "")
	_, _, err := Load("cifar10", g.writeDir(t))
	wantErr(t, "not CIFAR-shaped", err, "3 classes of 5×4 images, want 10 classes of 32×32 images")
	h := newFixture().add("notes.txt", nil)
	p := h.writeDir(t)
	_, _, err = Load("cifar10", p)
	wantErr(t, "nothing", err, p, "holds neither CIFAR-10 binary batches")
}

// FuzzCIFARRecords feeds arbitrary bytes to the CIFAR record reader in
// every format, with the true size and with a size that claims one record
// more: it must return consistent records or an error naming the file,
// never panic. The seed corpus runs in every go test.
func FuzzCIFARRecords(f *testing.F) {
	one, _ := cifarBatchFile(oneByteLabels(3, 9), 0)
	two, _ := cifarBatchFile([][]byte{{19, 99}, {0, 5}}, 0)
	f.Add(one)
	f.Add(two)
	f.Add(one[:3073+7])
	f.Add(append(slices.Clone(two), 1))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 3074))
	formats := []*cifarFormat{&cifar10Format, &cifar100FineFormat, &cifar100CoarseFormat}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range formats {
			rec := format.recordSize()
			for _, size := range []int64{int64(len(data)), int64(len(data) + rec)} {
				images, labels, err := readCIFARBatch(bytes.NewReader(data), size, "fuzz.bin", format)
				if err != nil {
					if !strings.Contains(err.Error(), "fuzz.bin") {
						t.Fatalf("error %q does not name the file", err)
					}
					continue
				}
				if size != int64(len(data)) || len(labels)*rec != len(data) || len(images) != len(labels)*cifarImageBytes {
					t.Fatalf("%s: %d labels and %d image bytes from %d bytes (size %d)", format.name, len(labels), len(images), len(data), size)
				}
				for i, l := range labels {
					if l < 0 || l >= format.numClasses[format.label] || data[i*rec+format.label] != byte(l) {
						t.Fatalf("%s: label %d of record %d", format.name, l, i)
					}
					if !bytes.Equal(images[i*cifarImageBytes:(i+1)*cifarImageBytes], data[i*rec+len(format.numClasses):(i+1)*rec]) {
						t.Fatalf("%s: pixels of record %d differ", format.name, i)
					}
				}
			}
		}
	})
}
