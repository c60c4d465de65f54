package datasets

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The Tiny ImageNet layout, as distributed (tiny-imagenet-200.zip, here
// read from a directory or a .tar/.tar.gz of it):
//
//	root/wnids.txt                   class ids (WordNet ids), one per line: line order = class index
//	root/words.txt                   id → description (not needed, ignored)
//	root/train/<wnid>/images/*.JPEG  training images (<wnid>_boxes.txt ignored)
//	root/val/images/*.JPEG           validation images
//	root/val/val_annotations.txt     "<file>\t<wnid>\t<x0>\t<y0>\t<x1>\t<y1>" per validation image
//	root/test/images/*.JPEG          unlabelled, ignored
//
// root may be the top level or one top folder ("tiny-imagenet-200/").

// tinyImageNetSpec selects the files of the Tiny ImageNet layout.
var tinyImageNetSpec = treeSpec{
	anchors: []string{"wnids.txt", "train", "val"},
	image: func(rel string) bool {
		if !isImageName(rel) {
			return false
		}
		c := splitPath(rel)
		return (len(c) >= 3 && c[0] == "train") || (len(c) == 3 && c[0] == "val" && c[1] == "images")
	},
	text: func(rel string) bool { return rel == "wnids.txt" || rel == tinyValAnnotations },
}

// tinyValAnnotations is the validation label file, relative to the root.
const tinyValAnnotations = "val/val_annotations.txt"

// LoadTinyImageNet loads the train and validation splits of Tiny ImageNet
// (or a subset of its classes in the same layout, see above) from a
// directory or a .tar/.tar.gz archive at path. Class i is line i of
// wnids.txt and Classes holds the WordNet ids. Training samples are ordered
// by class, then by path; validation samples follow val_annotations.txt.
// Images become 3-channel RGB (the set's grayscale JPEGs give three
// identical channels). The splits are named "tiny-imagenet/train" and
// "tiny-imagenet/val" and use TinyImageNetMean/TinyImageNetStd. Every
// inconsistency (a class folder or annotation naming an id missing from
// wnids.txt, a class without training images, an annotation naming a
// missing image, a validation image without annotation) is an error naming
// the file.
func LoadTinyImageNet(path string, opts LoadOptions) (train, val *Split, err error) {
	d, err := loadDecoded(path, layoutTinyImageNet, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("tiny-imagenet: %w", err)
	}
	train, val = d.finish("tiny-imagenet", TinyImageNetMean[:], TinyImageNetStd[:])
	return train, val, nil
}

// decodeTinyImageNet reads and decodes the Tiny ImageNet dataset in src.
func decodeTinyImageNet(src source, workers int) (*decodedSet, error) {
	t, err := readTree(src, tinyImageNetSpec, workers)
	if err != nil {
		return nil, err
	}
	raw, ok := t.texts["wnids.txt"]
	if !ok {
		return nil, fmt.Errorf("%s: not found", t.entryPath("wnids.txt"))
	}
	wnids, err := parseClassList(raw, t.entryPath("wnids.txt"))
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(wnids))
	for i, w := range wnids {
		index[w] = i
	}

	// Training split: train/<wnid>/..., ordered by class then path.
	type sample struct {
		im    *treeImage
		label int
	}
	var samples []sample
	count := make([]int, len(wnids))
	val := map[string]*treeImage{}
	for _, im := range t.images {
		c := splitPath(im.rel)
		if c[0] == "val" {
			val[c[2]] = im
			continue
		}
		l, ok := index[c[1]]
		if !ok {
			return nil, fmt.Errorf("%s: class folder %q is not listed in %s", t.entryPath("train/"+c[1]), c[1], t.entryPath("wnids.txt"))
		}
		count[l]++
		samples = append(samples, sample{im, l})
	}
	for l, n := range count {
		if n == 0 {
			return nil, fmt.Errorf("%s: no training images for class %q of wnids.txt (missing or empty class folder)", t.entryPath("train/"+wnids[l]), wnids[l])
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
	train, err := t.imagesToSplit(imgs, labels, wnids)
	if err != nil {
		return nil, err
	}

	// Validation split: val/images/<file>, labelled and ordered by the
	// annotation file.
	ann, ok := t.texts[tinyValAnnotations]
	if !ok {
		return nil, fmt.Errorf("%s: not found", t.entryPath(tinyValAnnotations))
	}
	annName := t.entryPath(tinyValAnnotations)
	imgs, labels = nil, nil
	seen := map[string]int{}
	for i, line := range strings.Split(string(ann), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			f = strings.Fields(line)
		}
		if len(f) < 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("%s: line %d: want \"<file>\\t<wnid>\\t<box>\", got %q", annName, i+1, line)
		}
		file, wnid := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		l, ok := index[wnid]
		if !ok {
			return nil, fmt.Errorf("%s: line %d: class %q of %s is not listed in wnids.txt (label out of range)", annName, i+1, wnid, file)
		}
		if first, dup := seen[file]; dup {
			return nil, fmt.Errorf("%s: line %d: %s is annotated twice (first on line %d)", annName, i+1, file, first)
		}
		seen[file] = i + 1
		im, ok := val[file]
		if !ok {
			return nil, fmt.Errorf("%s: line %d: names val/images/%s, which is missing from %s", annName, i+1, file, t.src.name)
		}
		imgs = append(imgs, im)
		labels = append(labels, l)
	}
	for _, im := range t.images { // source order, so the error is deterministic
		if c := splitPath(im.rel); c[0] == "val" && seen[c[2]] == 0 {
			return nil, fmt.Errorf("%s: has no line in %s", t.entryPath(im.rel), annName)
		}
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: no validation images", annName)
	}
	valSplit, err := t.imagesToSplit(imgs, labels, wnids)
	if err != nil {
		return nil, err
	}
	return &decodedSet{layout: layoutTinyImageNet, roles: [2]string{"train", "val"}, train: train, test: valSplit}, nil
}

// parseClassList parses a list of class names, one per line: surrounding
// spaces and "\r" are trimmed and blank lines skipped. An empty list or a
// repeated name is an error naming the file.
func parseClassList(raw []byte, name string) ([]string, error) {
	var out []string
	first := map[string]int{}
	for i, line := range bytes.Split(raw, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		if l, dup := first[s]; dup {
			return nil, fmt.Errorf("%s: line %d: class %q repeats line %d", name, i+1, s, l)
		}
		first[s] = i + 1
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no class names", name)
	}
	return out, nil
}
