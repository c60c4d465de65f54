package datasets

import (
	"cmp"
	"fmt"
	"slices"
)

// The image-folder layout, as torchvision's ImageFolder reads it, with the
// train and test splits side by side:
//
//	root/train/<class>/<image>
//	root/test/<class>/<image>    (or root/val/<class>/<image>)
//
// root is a directory or a .tar / .tar.gz archive (read as a stream, never
// unpacked); it may also hold the train/ and test/ folders inside one top
// folder ("cifar10/train/..."). Images are JPEG or PNG files (.jpg, .jpeg,
// .png in any case), also in sub-folders of a class folder; other files and
// hidden files or folders (".DS_Store") are ignored. Class indices are the
// positions of the class folder names of train/ sorted by byte order (as
// Python's sorted), and samples are ordered by class, then by path. The
// test split uses the classes of train/: a test class folder unknown to
// train/, or any class folder without images, is an error. When both test/
// and val/ exist, test/ is the test split.

// imageFolderSplits are the folder names an image-folder dataset may hold.
var imageFolderSplits = []string{"train", "test", "val"}

// imageFolderSpec selects the images of the image-folder layout.
var imageFolderSpec = treeSpec{
	anchors: imageFolderSplits,
	image: func(rel string) bool {
		c := splitPath(rel)
		return len(c) >= 3 && slices.Contains(imageFolderSplits, c[0]) && isImageName(rel)
	},
	text: func(string) bool { return false },
}

// LoadImageFolder loads the train and test (or val) splits of an image
// folder dataset (see the layout above) from a directory or a .tar/.tar.gz
// archive at path. Images become 3-channel RGB (grayscale images give three
// identical channels); all must share one size. The splits are named
// "imagefolder/train" and "imagefolder/test" (or "imagefolder/val"), and
// both are normalised with the per-channel mean and standard deviation of
// the training pixels (see ChannelStats): a generic folder has no published
// constants, and statistics of the data itself are what the published ones
// are. opts selects the decoding parallelism and an optional decoded cache.
func LoadImageFolder(path string, opts LoadOptions) (train, test *Split, err error) {
	d, err := loadDecoded(path, layoutImageFolder, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("imagefolder: %w", err)
	}
	train, test = d.finish("imagefolder", nil, nil)
	return train, test, nil
}

// decodeImageFolder reads and decodes the image-folder dataset in src.
func decodeImageFolder(src source, workers int) (*decodedSet, error) {
	t, err := readTree(src, imageFolderSpec, workers)
	if err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, d := range t.dirs {
		has[splitPath(d)[0]] = true
	}
	for _, im := range t.images {
		has[splitPath(im.rel)[0]] = true
	}
	if !has["train"] {
		return nil, fmt.Errorf("%s: no train/ folder", t.entryPath(""))
	}
	testRole := "test"
	if !has["test"] {
		if !has["val"] {
			return nil, fmt.Errorf("%s: no test/ or val/ folder next to train/", t.entryPath(""))
		}
		testRole = "val"
	}
	classes := t.folderClasses("train")
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: no class folders", t.entryPath("train"))
	}
	train, err := t.folderSplit("train", classes)
	if err != nil {
		return nil, err
	}
	test, err := t.folderSplit(testRole, classes)
	if err != nil {
		return nil, err
	}
	return &decodedSet{layout: layoutImageFolder, roles: [2]string{"train", testRole}, train: train, test: test}, nil
}

// folderClasses returns the sorted names of the class folders of split
// role: every folder role/<class>, and the class of every image.
func (t *imageTree) folderClasses(role string) []string {
	set := map[string]bool{}
	for _, d := range t.dirs {
		if c := splitPath(d); len(c) >= 2 && c[0] == role {
			set[c[1]] = true
		}
	}
	for _, im := range t.images {
		if c := splitPath(im.rel); c[0] == role {
			set[c[1]] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// folderSplit assembles split role (images role/<class>/...) with the class
// indices of classes (sorted).
func (t *imageTree) folderSplit(role string, classes []string) (*Split, error) {
	type sample struct {
		im    *treeImage
		label int
	}
	var samples []sample
	count := make([]int, len(classes))
	for _, im := range t.images {
		c := splitPath(im.rel)
		if c[0] != role {
			continue
		}
		l, ok := slices.BinarySearch(classes, c[1])
		if !ok {
			return nil, fmt.Errorf("%s: class folder %q is not one of the %d classes of train/", t.entryPath(role+"/"+c[1]), c[1], len(classes))
		}
		count[l]++
		samples = append(samples, sample{im, l})
	}
	for _, c := range t.folderClasses(role) {
		l, ok := slices.BinarySearch(classes, c)
		if !ok {
			return nil, fmt.Errorf("%s: class folder %q is not one of the %d classes of train/", t.entryPath(role+"/"+c), c, len(classes))
		}
		if count[l] == 0 {
			return nil, fmt.Errorf("%s: empty class folder (no .jpg, .jpeg or .png images)", t.entryPath(role+"/"+c))
		}
	}
	slices.SortFunc(samples, func(a, b sample) int {
		return cmp.Or(cmp.Compare(a.label, b.label), cmp.Compare(a.im.rel, b.im.rel))
	})
	imgs := make([]*treeImage, len(samples))
	labels := make([]int, len(samples))
	for i, s := range samples {
		imgs[i], labels[i] = s.im, s.label
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: no images", t.entryPath(role))
	}
	return t.imagesToSplit(imgs, labels, classes)
}
