package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A source is where a dataset's files come from: a directory or a tar
// archive (plain or gzip-compressed). Loaders see both the same way, as a
// sequence of entries with slash-separated paths relative to the source, so
// every layout (image folders, Tiny ImageNet, CIFAR binary) is read from a
// directory and streamed straight out of an archive by the same code,
// without unpacking anything to disk.
type source struct {
	name string               // the path given by the user, used in every error message
	walk func(walkFunc) error // calls fn for every entry, in a deterministic order
	dir  bool                 // a directory (entries are files below it) rather than an archive
}

// entryPath names entry rel of s in messages: the file's own path for a
// directory ("data/train/cat/1.png"), "archive: member" for an archive
// ("cifar10-jpeg.tar.gz: train/cat/0001.jpg").
func (s source) entryPath(rel string) string {
	if s.dir {
		return filepath.Join(s.name, filepath.FromSlash(rel))
	}
	if rel == "" { // the archive itself: "x.tar", not "x.tar: " (an error then read "x.tar: : no test/ …")
		return s.name
	}
	return s.name + ": " + rel
}

// sourceEntry is one file or folder of a source.
type sourceEntry struct {
	Name string // cleaned, slash-separated path relative to the source; never "" or "."
	Dir  bool   // a folder (for files, false)
	Size int64  // size in bytes of a file
}

// walkFunc is called for each entry of a source. For a file, open returns
// a reader of its Size bytes; it is valid only until walkFunc returns and
// need not be called (a directory source then never opens the file). For a
// folder, open is nil.
type walkFunc func(e sourceEntry, open func() (io.Reader, error)) error

// errStopWalk is returned by a walkFunc to end a walk early without error.
var errStopWalk = errors.New("stop walk")

// openSource returns the source at p: a directory, walked in lexical
// order, or a regular file, read as a tar archive (gzip-compressed or not,
// detected from its first bytes rather than its extension). The error of a
// missing path is the *fs.PathError of os.Stat, so errors.Is(err,
// fs.ErrNotExist) holds.
func openSource(p string) (source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return source{}, err
	}
	switch {
	case fi.IsDir():
		return source{name: p, dir: true, walk: func(fn walkFunc) error { return walkDir(p, fn) }}, nil
	case fi.Mode().IsRegular():
		return source{name: p, walk: func(fn walkFunc) error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return walkTar(f, p, fn)
		}}, nil
	}
	return source{}, fmt.Errorf("%s: neither a directory nor a regular file (%v)", p, fi.Mode().Type())
}

// bytesSource returns a source reading the tar archive (plain or gzip) held
// in data; name is used in error messages. Tests and fuzzers use it.
func bytesSource(name string, data []byte) source {
	return source{name: name, walk: func(fn walkFunc) error { return walkTar(bytes.NewReader(data), name, fn) }}
}

// walkDir calls fn for every folder and file below root in lexical order.
// Symbolic links to files are followed; symbolic links to folders are not
// (they are skipped, as are sockets, devices and other special files).
// Errors name the offending path.
func walkDir(root string, fn walkFunc) error {
	// filepath.WalkDir does not descend into a root that is itself a
	// symbolic link; walk its target.
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err // an *fs.PathError naming p
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			return fn(sourceEntry{Name: name, Dir: true}, nil)
		}
		info, err := os.Stat(p) // follows a symbolic link
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		var f *os.File
		open := func() (io.Reader, error) {
			if f != nil {
				return nil, fmt.Errorf("%s: opened twice", p)
			}
			var err error
			f, err = os.Open(p)
			if err != nil {
				return nil, err
			}
			return io.LimitReader(f, info.Size()), nil
		}
		err = fn(sourceEntry{Name: name, Size: info.Size()}, open)
		if f != nil {
			f.Close()
		}
		return err
	})
	if errors.Is(err, errStopWalk) {
		return nil
	}
	return err
}

// splitPath splits a cleaned slash-separated relative path into its
// components.
func splitPath(name string) []string { return strings.Split(name, "/") }

// isHidden reports whether a path component is hidden (".DS_Store",
// "._x.jpg", ".ipynb_checkpoints"): such files and folders are ignored by
// every layout.
func isHidden(comp string) bool { return strings.HasPrefix(comp, ".") }

// hasHidden reports whether any component of name is hidden.
func hasHidden(name string) bool { return slices.ContainsFunc(splitPath(name), isHidden) }

// isImageName reports whether name has an image extension this package
// decodes: .jpg, .jpeg or .png, in any case. Other files (text, boxes,
// READMEs) are skipped by the image layouts.
func isImageName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// rootCandidates returns the roots under which entry name could belong to
// a dataset whose top level holds one of anchors: "" when name's first
// component is an anchor, and its first component plus "/" when its second
// one is (the dataset inside a single wrapper folder, such as
// "cifar-10-batches-bin/" or "tiny-imagenet-200/").
func rootCandidates(name string, anchors []string) []string {
	comps := splitPath(name)
	var out []string
	if slices.Contains(anchors, comps[0]) {
		out = append(out, "")
	}
	if len(comps) >= 2 && slices.Contains(anchors, comps[1]) && !isHidden(comps[0]) {
		out = append(out, comps[0]+"/")
	}
	return out
}

// resolveRoot picks the dataset root from the candidates of every entry
// seen (see rootCandidates): the top level if any entry has an anchor
// there, otherwise the single wrapper folder holding one. Several
// different wrapper folders, or none, is an error naming src and what was
// looked for.
func resolveRoot(src string, candidates map[string]bool, anchors []string) (string, error) {
	if candidates[""] {
		return "", nil
	}
	var wrappers []string
	for c := range candidates {
		wrappers = append(wrappers, strings.TrimSuffix(c, "/"))
	}
	slices.Sort(wrappers)
	switch len(wrappers) {
	case 1:
		return wrappers[0] + "/", nil
	case 0:
		return "", fmt.Errorf("%s: none of %s found at the top level or inside a single top folder", src, strings.Join(anchors, ", "))
	}
	return "", fmt.Errorf("%s: several top folders hold a dataset (%s); expected one", src, strings.Join(wrappers, ", "))
}
