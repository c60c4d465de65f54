package datasets

import (
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// The CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html).
// A batch file is a plain sequence of fixed-size records, each one image
// of 32×32 pixels stored as the 1,024 red bytes, then the 1,024 green, then
// the 1,024 blue (each plane row-major): exactly the CHW order of Split.
//
//	CIFAR-10:  <label> <3072 pixels>                 3,073 bytes
//	           data_batch_1.bin ... data_batch_5.bin (10,000 records each), test_batch.bin,
//	           batches.meta.txt (the 10 class names, one per line)
//	CIFAR-100: <coarse label> <fine label> <3072 pixels>   3,074 bytes
//	           train.bin (50,000 records), test.bin (10,000),
//	           fine_label_names.txt (100 names), coarse_label_names.txt (20 names)
//
// The official archives wrap these in cifar-10-batches-bin/ and
// cifar-100-binary/; the loaders accept the files at the top level of a
// directory or .tar/.tar.gz, or inside any single top folder.

// cifarImageBytes is the size of one CIFAR image: 3×32×32.
const cifarImageBytes = 3 * 32 * 32

// maxCIFARRecords bounds the records one batch file may hold (a header
// declaring more is rejected before reading); the real files hold 50,000
// at most.
const maxCIFARRecords = 1 << 22

// CIFAR10Classes are the CIFAR-10 class names, index = label (the order of
// batches.meta.txt and, being alphabetical, of the JPEG copy's folders).
var CIFAR10Classes = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// CIFAR100FineClasses are the 100 CIFAR-100 fine class names, index =
// fine label (fine_label_names.txt).
var CIFAR100FineClasses = []string{
	"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
	"bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
	"chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
	"dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
	"lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
	"mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
	"plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
	"rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
	"squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
	"train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
}

// CIFAR100CoarseClasses are the 20 CIFAR-100 superclass names, index =
// coarse label (coarse_label_names.txt).
var CIFAR100CoarseClasses = []string{
	"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
	"household_electrical_devices", "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
	"large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
	"reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
}

// CIFAR100Labels chooses which of the two labels of a CIFAR-100 record
// becomes the class.
type CIFAR100Labels int

const (
	// CIFAR100Fine selects the 100 fine classes (the usual benchmark).
	CIFAR100Fine CIFAR100Labels = iota
	// CIFAR100Coarse selects the 20 superclasses.
	CIFAR100Coarse
)

// cifarFormat describes one CIFAR binary format and label choice.
type cifarFormat struct {
	name       string   // split name prefix: "cifar10", "cifar100", "cifar100-coarse"
	labelNames []string // names of the label bytes, for messages
	numClasses []int    // number of classes of each label byte, for range checks
	label      int      // index of the label byte that is the class
	train      []string // batch files of the training split, in order
	test       []string // batch files of the test split
	classFile  string   // the class-name file (optional)
	classes    []string // default class names when classFile is absent
	mean, std  [3]float64
}

var (
	cifar10Format = cifarFormat{
		name: "cifar10", labelNames: []string{"label"}, numClasses: []int{10}, label: 0,
		train:     []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test:      []string{"test_batch.bin"},
		classFile: "batches.meta.txt", classes: CIFAR10Classes,
		mean: CIFAR10Mean, std: CIFAR10Std,
	}
	cifar100FineFormat = cifarFormat{
		name: "cifar100", labelNames: []string{"coarse label", "fine label"}, numClasses: []int{20, 100}, label: 1,
		train: []string{"train.bin"}, test: []string{"test.bin"},
		classFile: "fine_label_names.txt", classes: CIFAR100FineClasses,
		mean: CIFAR100Mean, std: CIFAR100Std,
	}
	cifar100CoarseFormat = cifarFormat{
		name: "cifar100-coarse", labelNames: []string{"coarse label", "fine label"}, numClasses: []int{20, 100}, label: 0,
		train: []string{"train.bin"}, test: []string{"test.bin"},
		classFile: "coarse_label_names.txt", classes: CIFAR100CoarseClasses,
		mean: CIFAR100Mean, std: CIFAR100Std,
	}
)

// recordSize returns the bytes of one record: the label bytes and the image.
func (f *cifarFormat) recordSize() int { return len(f.numClasses) + cifarImageBytes }

// files returns every file name of the format, batch files first.
func (f *cifarFormat) files() []string {
	return slices.Concat(f.train, f.test, []string{f.classFile})
}

// readCIFARBatch reads one CIFAR binary batch file of size bytes from r:
// its images (3,072 bytes each, CHW) and the chosen label of each record.
// A size that is not a positive whole number of records, a short read, or
// a label byte outside its range (checked for both labels of CIFAR-100) is
// an error naming the file (name) and, for labels, the record. Memory grows
// with the data actually read, never with what size claims.
func readCIFARBatch(r io.Reader, size int64, name string, f *cifarFormat) (images []uint8, labels []int, err error) {
	rec := int64(f.recordSize())
	if size <= 0 || size%rec != 0 {
		return nil, nil, fmt.Errorf("%s: size %d bytes is not a whole, positive number of %d-byte %s records (%d records and %d bytes left over)",
			name, size, rec, f.name, max(size, 0)/rec, max(size, 0)%rec)
	}
	n := size / rec
	if n > maxCIFARRecords {
		return nil, nil, fmt.Errorf("%s: %d records is more than the %d this reader accepts", name, n, maxCIFARRecords)
	}
	const chunk = 1024 // records read per call
	pre := min(n, 16384)
	images = make([]uint8, 0, pre*cifarImageBytes)
	labels = make([]int, 0, pre)
	buf := make([]byte, min(n, chunk)*rec)
	nl := len(f.numClasses)
	for done := int64(0); done < n; {
		k := min(n-done, chunk)
		b := buf[:k*rec]
		if got, err := io.ReadFull(r, b); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, nil, fmt.Errorf("%s: truncated: %d of %d bytes", name, done*rec+int64(got), size)
			}
			return nil, nil, fmt.Errorf("%s: reading record %d: %w", name, done, err)
		}
		for j := range k {
			recb := b[j*rec : (j+1)*rec]
			for li, nc := range f.numClasses {
				if int(recb[li]) >= nc {
					return nil, nil, fmt.Errorf("%s: record %d: %s %d out of range [0, %d)", name, done+j, f.labelNames[li], recb[li], nc)
				}
			}
			labels = append(labels, int(recb[f.label]))
			images = append(images, recb[nl:]...)
		}
		done += k
	}
	return images, labels, nil
}

// LoadCIFAR10Binary loads CIFAR-10 from the official binary files
// (data_batch_1..5.bin, test_batch.bin and, if present, batches.meta.txt
// for the class names; CIFAR10Classes otherwise) in a directory or a
// .tar/.tar.gz at path, at the top level or inside one folder such as
// cifar-10-batches-bin. The splits are named "cifar10/train" (50,000
// samples) and "cifar10/test" (10,000) and use CIFAR10Mean/CIFAR10Std.
func LoadCIFAR10Binary(path string) (train, test *Split, err error) {
	return loadCIFARBinary(path, &cifar10Format)
}

// LoadCIFAR100 loads CIFAR-100 from the official binary files (train.bin,
// test.bin and, if present, fine_label_names.txt or coarse_label_names.txt
// for the class names; CIFAR100FineClasses or CIFAR100CoarseClasses
// otherwise) in a directory or a .tar/.tar.gz at path, at the top level or
// inside one folder such as cifar-100-binary. labels chooses the 100 fine
// classes (splits "cifar100/train" and "cifar100/test") or the 20 coarse
// ones ("cifar100-coarse/..."); both use CIFAR100Mean/CIFAR100Std.
func LoadCIFAR100(path string, labels CIFAR100Labels) (train, test *Split, err error) {
	switch labels {
	case CIFAR100Fine:
		return loadCIFARBinary(path, &cifar100FineFormat)
	case CIFAR100Coarse:
		return loadCIFARBinary(path, &cifar100CoarseFormat)
	}
	return nil, nil, fmt.Errorf("cifar100: unknown label choice %d (want CIFAR100Fine or CIFAR100Coarse)", labels)
}

// LoadCIFAR10 loads CIFAR-10 from path, which holds either the official
// binary batches (see LoadCIFAR10Binary) or the image-folder layout of the
// JPEG copy (train/<class>/*.jpg and test/<class>/*.jpg, as
// ../shared/data/cifar10-jpeg.tar.gz), in a directory or a .tar/.tar.gz;
// the first batch file or image found decides which. Either way the splits
// are named "cifar10/train" and "cifar10/test" and use the official
// CIFAR10Mean/CIFAR10Std (the JPEG copy's own statistics differ by less
// than 0.0006). The image layout must hold 10 classes of 32×32 images.
// opts applies to the image layout only (the binary files need no
// decoding).
func LoadCIFAR10(path string, opts LoadOptions) (train, test *Split, err error) {
	binary, err := isCIFAR10Binary(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cifar10: %w", err)
	}
	if binary {
		return LoadCIFAR10Binary(path)
	}
	d, err := loadDecoded(path, layoutImageFolder, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("cifar10: %w", err)
	}
	if len(d.train.Classes) != 10 || d.train.H != 32 || d.train.W != 32 {
		return nil, nil, fmt.Errorf("cifar10: %s: %d classes of %d×%d images, want 10 classes of 32×32 images", path, len(d.train.Classes), d.train.W, d.train.H)
	}
	train, test = d.finish("cifar10", CIFAR10Mean[:], CIFAR10Std[:])
	return train, test, nil
}

// isCIFAR10Binary reports whether the first relevant file of the source at
// p is a CIFAR-10 binary file (true) or an image (false). A source with
// neither is an error.
func isCIFAR10Binary(p string) (bool, error) {
	src, err := openSource(p)
	if err != nil {
		return false, err
	}
	binary, found := false, false
	err = src.walk(func(e sourceEntry, _ func() (io.Reader, error)) error {
		if e.Dir || hasHidden(e.Name) {
			return nil
		}
		switch base := path.Base(e.Name); {
		case slices.Contains(cifar10Format.files(), base):
			binary, found = true, true
		case isImageName(base):
			found = true
		default:
			return nil
		}
		return errStopWalk
	})
	if err != nil {
		return false, err
	}
	if !found {
		return false, fmt.Errorf("%s: holds neither CIFAR-10 binary batches (%s) nor .jpg/.png images", p, strings.Join(cifar10Format.files(), ", "))
	}
	return binary, nil
}

// cifarBatch is one parsed batch file.
type cifarBatch struct {
	images []uint8
	labels []int
}

// loadCIFARBinary reads the batch files of format f from the source at p
// (streamed, so a .tar.gz is never unpacked) and assembles the splits.
func loadCIFARBinary(p string, f *cifarFormat) (train, test *Split, err error) {
	src, err := openSource(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.name, err)
	}
	anchors := f.files()
	batches := map[string]*cifarBatch{} // by path in the source
	texts := map[string][]byte{}
	cands := map[string]bool{}
	err = src.walk(func(e sourceEntry, open func() (io.Reader, error)) error {
		if e.Dir || hasHidden(e.Name) {
			return nil
		}
		var match []string
		for _, c := range rootCandidates(e.Name, anchors) {
			if slices.Contains(anchors, strings.TrimPrefix(e.Name, c)) {
				match = append(match, c)
			}
		}
		if len(match) == 0 {
			return nil
		}
		for _, c := range match {
			cands[c] = true
		}
		name := src.entryPath(e.Name)
		if path.Base(e.Name) == f.classFile {
			b, err := readEntry(open, e.Size, maxTextBytes, name)
			if err != nil {
				return err
			}
			texts[e.Name] = b
			return nil
		}
		r, err := open()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		images, labels, err := readCIFARBatch(r, e.Size, name, f)
		if err != nil {
			return err
		}
		batches[e.Name] = &cifarBatch{images, labels}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.name, err)
	}
	root, err := resolveRoot(src.name, cands, anchors)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.name, err)
	}
	classes := slices.Clone(f.classes)
	if raw, ok := texts[root+f.classFile]; ok {
		name := src.entryPath(root + f.classFile)
		if classes, err = parseClassList(raw, name); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if want := f.numClasses[f.label]; len(classes) != want {
			return nil, nil, fmt.Errorf("%s: %s: %d class names, want %d", f.name, name, len(classes), want)
		}
	}
	assemble := func(role string, files []string) (*Split, error) {
		s := &Split{Name: f.name + "/" + role, C: 3, H: 32, W: 32, Classes: slices.Clone(classes),
			Mean: slices.Clone(f.mean[:]), Std: slices.Clone(f.std[:])}
		total := 0
		for _, file := range files {
			b, ok := batches[root+file]
			if !ok {
				return nil, fmt.Errorf("%s: %s: missing", f.name, src.entryPath(root+file))
			}
			total += len(b.labels)
		}
		s.Images = make([]uint8, 0, total*cifarImageBytes)
		s.Labels = make([]int, 0, total)
		for _, file := range files {
			b := batches[root+file]
			s.Images = append(s.Images, b.images...)
			s.Labels = append(s.Labels, b.labels...)
			delete(batches, root+file)
		}
		s.N = len(s.Labels)
		return s, nil
	}
	if train, err = assemble("train", f.train); err != nil {
		return nil, nil, err
	}
	if test, err = assemble("test", f.test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}
