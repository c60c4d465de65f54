package datasets

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The decoded cache keeps an image dataset as the uint8 pixels and labels
// the decoders produce, so that later loads are one sequential read (the
// payload is read straight into the Split's slices; it is not memory-mapped,
// which would tie the splits' lifetime to an open mapping and skip the
// checksum). A cache file is
//
//	magic    8 bytes  "BNZCACHE"
//	version  uint32   little-endian, cacheVersion
//	hlen     uint32   length of the JSON header
//	hcrc     uint32   CRC-32C (Castagnoli) of the JSON header
//	header   hlen bytes of JSON (cacheHeader): layout, source fingerprint,
//	         classes, the two splits' roles and shapes (N, C, H, W), payload
//	         size and payload CRC-32C
//	payload  for each split (train, then test/val): N labels as uint32
//	         little-endian, then the N×C×H×W pixel bytes
//
// A cache is used only if everything checks out: magic, version, layout,
// source fingerprint (absolute path, size and modification time; for a
// directory also the number of files and a SHA-256 of every file's path,
// size and modification time), header and payload checksums, shapes
// consistent with the file size, and labels within the class list.
// Otherwise it is stale or corrupt and is rebuilt from the source. It is
// written atomically: to a temporary file in the same directory, synced,
// then renamed over the old one (and the directory synced), so a crash or a
// concurrent reader never sees a half-written cache.

const (
	cacheMagic     = "BNZCACHE"
	cacheVersion   = 1
	cachePrefixLen = 8 + 4 + 4 + 4
	cacheExt       = ".bnzcache"
	maxCacheHeader = 16 << 20
	// maxCachePayload bounds what a header may declare (1 TiB), so that
	// size arithmetic cannot overflow.
	maxCachePayload = 1 << 40
)

// castagnoli is the CRC-32C table (hardware-accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheStatus says what loading found in the cache.
type cacheStatus int

const (
	cacheNone    cacheStatus = iota // no cache asked for
	cacheMissing                    // no cache file yet: built
	cacheHit                        // valid cache used
	cacheStale                      // cache of another source state, layout or version: rebuilt
	cacheCorrupt                    // unreadable or failing a check: rebuilt
)

// sourceFingerprint identifies the state of a dataset source.
type sourceFingerprint struct {
	Path    string `json:"path"`                     // absolute path
	Size    int64  `json:"size"`                     // bytes: the file's, or the sum of a directory's files
	ModTime int64  `json:"mtime_ns"`                 // modification time: the file's, or the latest of a directory's files
	Files   int    `json:"files,omitempty"`          // directory: number of files
	Listing string `json:"listing_sha256,omitempty"` // directory: SHA-256 of every file's path, size and mtime
}

// cacheHeader is the JSON header of a cache file.
type cacheHeader struct {
	Layout        string            `json:"layout"`
	Source        sourceFingerprint `json:"source"`
	Classes       []string          `json:"classes"`
	Splits        [2]cacheSplit     `json:"splits"`
	PayloadBytes  int64             `json:"payload_bytes"`
	PayloadCRC32C uint32            `json:"payload_crc32c"`
}

// cacheSplit describes one split of a cache file.
type cacheSplit struct {
	Role       string `json:"role"`
	N, C, H, W int
}

// bytes returns the payload size of the split, or -1 if its shape is
// invalid or too large.
func (s cacheSplit) bytes() int64 {
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.C > 4 || s.H > 1<<16 || s.W > 1<<16 || int64(s.N) > maxCachePayload {
		return -1
	}
	img := int64(s.C) * int64(s.H) * int64(s.W)
	if int64(s.N) > maxCachePayload/(img+4) {
		return -1
	}
	return int64(s.N) * (img + 4)
}

// cacheFile returns the cache path opts asks for for the source at path
// and layout, or "" when opts asks for no cache. It creates CacheDir.
func cacheFile(path, layout string, opts LoadOptions) (string, error) {
	if opts.CacheDir == "" && !opts.CacheBesideSource {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("cache for %s: %w", path, err)
	}
	base := filepath.Base(abs)
	if opts.CacheDir == "" {
		return filepath.Join(filepath.Dir(abs), base+"."+layout+cacheExt), nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(opts.CacheDir, fmt.Sprintf("%s.%s.%s%s", base, layout, hex.EncodeToString(sum[:4]), cacheExt)), nil
}

// isCacheFileName reports whether a file name is a cache or a temporary
// cache file, which a directory's fingerprint ignores (a cache directory
// may be inside the source directory).
func isCacheFileName(name string) bool {
	return strings.HasSuffix(name, cacheExt) || strings.Contains(name, cacheExt+".tmp")
}

// fingerprintSource returns the fingerprint of the source at path. For a
// directory it stats every file below it (following symbolic links to
// files), which is cheap next to decoding them.
func fingerprintSource(path string) (sourceFingerprint, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return sourceFingerprint{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return sourceFingerprint{}, err
	}
	fp := sourceFingerprint{Path: abs}
	if !fi.IsDir() {
		fp.Size, fp.ModTime = fi.Size(), fi.ModTime().UnixNano()
		return fp, nil
	}
	root := abs
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		root = r // WalkDir does not descend into a symbolic link root
	}
	h := sha256.New()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || isCacheFileName(d.Name()) {
			return nil
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		mt := info.ModTime().UnixNano()
		fmt.Fprintf(h, "%q %d %d\n", filepath.ToSlash(rel), info.Size(), mt)
		fp.Files++
		fp.Size += info.Size()
		fp.ModTime = max(fp.ModTime, mt)
		return nil
	})
	if err != nil {
		return sourceFingerprint{}, err
	}
	fp.Listing = hex.EncodeToString(h.Sum(nil))
	return fp, nil
}

// readCache reads the cache file at path if it is a valid cache of layout
// for a source in state fp. Any problem gives a nil set and the status
// saying why (missing, stale or corrupt); nothing is ever fatal, since the
// cache can always be rebuilt.
func readCache(path, layout string, fp sourceFingerprint) (*decodedSet, cacheStatus) {
	d, err := readCacheFile(path, layout, fp)
	switch {
	case err == nil:
		return d, cacheHit
	case errors.Is(err, fs.ErrNotExist):
		return nil, cacheMissing
	case errors.Is(err, errCacheStale):
		return nil, cacheStale
	}
	return nil, cacheCorrupt
}

// errCacheStale marks a well-formed cache of something else.
var errCacheStale = errors.New("stale cache")

// readCacheFile is readCache returning the reason as an error.
func readCacheFile(path, layout string, fp sourceFingerprint) (*decodedSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	br := bufio.NewReaderSize(f, 1<<20)
	var prefix [cachePrefixLen]byte
	if _, err := io.ReadFull(br, prefix[:]); err != nil {
		return nil, fmt.Errorf("%s: short prefix: %w", path, err)
	}
	if string(prefix[:8]) != cacheMagic {
		return nil, fmt.Errorf("%s: wrong magic %q", path, prefix[:8])
	}
	if v := binary.LittleEndian.Uint32(prefix[8:]); v != cacheVersion {
		return nil, fmt.Errorf("%s: version %d, want %d: %w", path, v, cacheVersion, errCacheStale)
	}
	hlen := int64(binary.LittleEndian.Uint32(prefix[12:]))
	if hlen > maxCacheHeader || cachePrefixLen+hlen > size {
		return nil, fmt.Errorf("%s: header length %d does not fit a %d-byte file", path, hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("%s: short header: %w", path, err)
	}
	if crc32.Checksum(hb, castagnoli) != binary.LittleEndian.Uint32(prefix[16:]) {
		return nil, fmt.Errorf("%s: header checksum mismatch", path)
	}
	var hdr cacheHeader
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if hdr.Layout != layout || hdr.Source != fp {
		return nil, fmt.Errorf("%s: cache of %s %+v, want %s %+v: %w", path, hdr.Layout, hdr.Source, layout, fp, errCacheStale)
	}
	var total int64
	for _, s := range hdr.Splits {
		b := s.bytes()
		if b < 0 {
			return nil, fmt.Errorf("%s: bad split shape %+v", path, s)
		}
		total += b
	}
	if hdr.PayloadBytes != total || cachePrefixLen+hlen+total != size || len(hdr.Classes) == 0 || hdr.Splits[0].Role != "train" {
		return nil, fmt.Errorf("%s: header (payload %d bytes, shapes %+v, %d classes) does not match the %d-byte file",
			path, hdr.PayloadBytes, hdr.Splits, len(hdr.Classes), size)
	}
	crc := crc32.New(castagnoli)
	var splits [2]*Split
	for i, cs := range hdr.Splits {
		s := &Split{N: cs.N, C: cs.C, H: cs.H, W: cs.W, Classes: hdr.Classes,
			Labels: make([]int, cs.N), Images: make([]uint8, cs.N*cs.C*cs.H*cs.W)}
		lb := make([]byte, 4*cs.N)
		if _, err := io.ReadFull(br, lb); err != nil {
			return nil, fmt.Errorf("%s: short payload: %w", path, err)
		}
		crc.Write(lb)
		for j := range s.Labels {
			l := binary.LittleEndian.Uint32(lb[4*j:])
			if int64(l) >= int64(len(hdr.Classes)) {
				return nil, fmt.Errorf("%s: %s label %d of sample %d out of range", path, cs.Role, l, j)
			}
			s.Labels[j] = int(l)
		}
		if _, err := io.ReadFull(br, s.Images); err != nil {
			return nil, fmt.Errorf("%s: short payload: %w", path, err)
		}
		crc.Write(s.Images)
		splits[i] = s
	}
	if crc.Sum32() != hdr.PayloadCRC32C {
		return nil, fmt.Errorf("%s: payload checksum mismatch", path)
	}
	d := &decodedSet{layout: layout, roles: [2]string{hdr.Splits[0].Role, hdr.Splits[1].Role}, train: splits[0], test: splits[1]}
	if err := d.check(path); err != nil {
		return nil, err
	}
	return d, nil
}

// writeCache writes d, decoded from a source in state fp, to the cache file
// at path, atomically.
func writeCache(path string, d *decodedSet, fp sourceFingerprint) (err error) {
	hdr := cacheHeader{Layout: d.layout, Source: fp, Classes: d.train.Classes}
	labels := make([][]byte, 2)
	crc := crc32.New(castagnoli)
	for i, s := range []*Split{d.train, d.test} {
		hdr.Splits[i] = cacheSplit{Role: d.roles[i], N: s.N, C: s.C, H: s.H, W: s.W}
		lb := make([]byte, 4*s.N)
		for j, l := range s.Labels {
			binary.LittleEndian.PutUint32(lb[4*j:], uint32(l))
		}
		labels[i] = lb
		crc.Write(lb)
		crc.Write(s.Images)
		hdr.PayloadBytes += int64(len(lb) + len(s.Images))
	}
	hdr.PayloadCRC32C = crc.Sum32()
	hb, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("writing cache %s: %w", path, err)
	}
	var prefix [cachePrefixLen]byte
	copy(prefix[:], cacheMagic)
	binary.LittleEndian.PutUint32(prefix[8:], cacheVersion)
	binary.LittleEndian.PutUint32(prefix[12:], uint32(len(hb)))
	binary.LittleEndian.PutUint32(prefix[16:], crc32.Checksum(hb, castagnoli))

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("writing cache %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	for _, b := range [][]byte{prefix[:], hb, labels[0], d.train.Images, labels[1], d.test.Images} {
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every system can sync a directory, and
	// the cache is valid either way.
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
	return nil
}
