package datasets

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// maxTextBytes is the largest text file (class lists, annotations) a layout
// reads into memory.
const maxTextBytes = 64 << 20

// treeSpec says which entries of a source an image layout needs. Paths
// passed to image and text are relative to the dataset root.
type treeSpec struct {
	anchors []string              // top-level names marking the dataset root ("train", "wnids.txt", ...)
	image   func(rel string) bool // files to decode as images
	text    func(rel string) bool // small files to keep as bytes
}

// imageTree is what readTree found below the dataset root of a source.
type imageTree struct {
	src    source
	root   string            // "" or the wrapper folder with a trailing "/"
	dirs   []string          // folders, relative to root, in source order
	images []*treeImage      // decoded images, relative to root, in source order
	texts  map[string][]byte // the requested text files, by relative path
}

// treeImage is one image file of a source and, once decoded, its pixels.
type treeImage struct {
	rel  string  // path relative to the dataset root
	full string  // path in the source
	data []byte  // the file's bytes, until decoded
	pix  []uint8 // 3×h×w planar RGB
	h, w int
	err  error
}

// readTree walks src once and decodes every image spec asks for with
// workers goroutines (0 means runtime.GOMAXPROCS(0)) while the walk goes
// on, so that reading (and un-gzipping) overlaps decoding. The result
// lists images in source order, whatever the scheduling, and if several
// images are unreadable the error is that of the first in source order:
// once an error is seen no new files are read, and every file before it
// has already been handed to a decoder. The dataset root is the top level,
// or the single folder holding one of spec.anchors (see resolveRoot).
func readTree(src source, spec treeSpec, workers int) (*imageTree, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan *treeImage, 2*workers)
	var (
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for im := range jobs {
				im.pix, im.h, im.w, im.err = decodeImage(im.data, src.entryPath(im.full))
				im.data = nil
				if im.err != nil {
					failed.Store(true)
				}
			}
		}()
	}

	type item struct {
		name   string
		dir    bool
		isText bool
		text   []byte
		img    *treeImage
		cands  []string
	}
	var items []item
	cands := map[string]bool{}
	walkErr := src.walk(func(e sourceEntry, open func() (io.Reader, error)) error {
		if failed.Load() {
			return errStopWalk
		}
		if hasHidden(e.Name) {
			return nil
		}
		cs := rootCandidates(e.Name, spec.anchors)
		if len(cs) == 0 {
			return nil
		}
		for _, c := range cs {
			cands[c] = true
		}
		it := item{name: e.Name, dir: e.Dir, cands: cs}
		if !e.Dir {
			wantImage, wantText := false, false
			for _, c := range cs {
				rel := strings.TrimPrefix(e.Name, c)
				wantImage = wantImage || spec.image(rel)
				wantText = wantText || spec.text(rel)
			}
			switch {
			case wantText:
				b, err := readEntry(open, e.Size, maxTextBytes, src.entryPath(e.Name))
				if err != nil {
					return err
				}
				it.isText, it.text = true, b
			case wantImage:
				im := &treeImage{full: e.Name}
				it.img = im
				if e.Size > maxImageBytes {
					im.err = fmt.Errorf("%s: image file of %d bytes is larger than the %d-byte limit", src.entryPath(e.Name), e.Size, maxImageBytes)
					failed.Store(true)
					break
				}
				b, err := readEntry(open, e.Size, maxImageBytes, src.entryPath(e.Name))
				if err != nil {
					return err
				}
				im.data = b
				jobs <- im
			default:
				return nil
			}
		}
		items = append(items, it)
		return nil
	})
	close(jobs)
	wg.Wait()
	for _, it := range items {
		if it.img != nil && it.img.err != nil {
			return nil, it.img.err
		}
	}
	if walkErr != nil {
		return nil, walkErr
	}
	root, err := resolveRoot(src.name, cands, spec.anchors)
	if err != nil {
		return nil, err
	}
	t := &imageTree{src: src, root: root, texts: map[string][]byte{}}
	for _, it := range items {
		if !slices.Contains(it.cands, root) {
			continue
		}
		rel := strings.TrimPrefix(it.name, root)
		switch {
		case it.dir:
			t.dirs = append(t.dirs, rel)
		case it.isText && spec.text(rel):
			t.texts[rel] = it.text
		case it.img != nil && spec.image(rel):
			it.img.rel = rel
			t.images = append(t.images, it.img)
		}
	}
	return t, nil
}

// readEntry reads the size bytes of a source file, refusing files larger
// than limit. name prefixes errors.
func readEntry(open func() (io.Reader, error), size, limit int64, name string) ([]byte, error) {
	if size > limit {
		return nil, fmt.Errorf("%s: file of %d bytes is larger than the %d-byte limit", name, size, limit)
	}
	r, err := open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := make([]byte, size)
	if n, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%s: read %d of %d bytes: %w", name, n, size, err)
	}
	return b, nil
}

// entryPath names a path relative to the tree's root in messages.
func (t *imageTree) entryPath(rel string) string { return t.src.entryPath(t.root + rel) }

// imagesToSplit assembles decoded images, already in sample order, with
// their labels into a split holding 3×H×W pixels. Every image must have the
// size of the first: images are never resized, so a differing one is an
// error naming both files. The split's Name, Mean and Std are left for the
// caller to set. The images' own pixel buffers are released.
func (t *imageTree) imagesToSplit(imgs []*treeImage, labels []int, classes []string) (*Split, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: no images", t.src.name)
	}
	h, w := imgs[0].h, imgs[0].w
	sz := 3 * h * w
	s := &Split{N: len(imgs), C: 3, H: h, W: w, Labels: labels, Classes: classes, Images: make([]uint8, len(imgs)*sz)}
	for i, im := range imgs {
		if im.h != h || im.w != w {
			return nil, fmt.Errorf("%s: image is %d×%d pixels but the first image, %s, is %d×%d: all images of a dataset must have the same size",
				t.entryPath(im.rel), im.w, im.h, imgs[0].rel, w, h)
		}
		copy(s.Images[i*sz:], im.pix)
		im.pix = nil // let the collector reclaim decoded copies as they are assembled
	}
	return s, nil
}
