package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// IDX magic numbers of the two file kinds used by MNIST-style datasets
// (see http://yann.lecun.com/exdb/mnist/). The magic is a big-endian uint32
// whose third byte is the element type (0x08 = unsigned byte) and whose
// fourth byte is the number of dimensions.
const (
	// IDXImagesMagic is the magic of a 3-dimensional uint8 IDX file
	// (N images of rows×cols pixels): 0x00000803.
	IDXImagesMagic uint32 = 2051
	// IDXLabelsMagic is the magic of a 1-dimensional uint8 IDX file
	// (N labels): 0x00000801.
	IDXLabelsMagic uint32 = 2049
)

// maxIDXElements is the largest data size (in bytes) a header may declare.
// Anything larger is rejected before reading, whatever the file contains.
const maxIDXElements = min(1<<34, math.MaxInt)

// idxPrealloc bounds the buffer allocated up front when the real size of
// the data is not known (gzip input): the buffer then grows only as data
// actually arrives, so a tiny file declaring huge dimensions cannot make the
// reader allocate gigabytes.
const idxPrealloc = 1 << 24

// idxFile is a decoded IDX file of unsigned bytes.
type idxFile struct {
	dims []int
	data []uint8
}

// ReadIDXImages reads an IDX image file (magic 2051, gzip-compressed or raw)
// and returns its pixels as one slice of n*rows*cols bytes, image-major then
// row-major, with its dimensions. Errors name the file.
func ReadIDXImages(path string) (images []uint8, n, rows, cols int, err error) {
	f, err := readIDXFile(path, IDXImagesMagic)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	n, rows, cols = f.dims[0], f.dims[1], f.dims[2]
	if rows == 0 || cols == 0 {
		return nil, 0, 0, 0, fmt.Errorf("idx %s: images of %d×%d pixels: rows and cols must be positive", path, rows, cols)
	}
	return f.data, n, rows, cols, nil
}

// ReadIDXLabels reads an IDX label file (magic 2049, gzip-compressed or raw)
// and returns one byte per label. Errors name the file.
func ReadIDXLabels(path string) ([]uint8, error) {
	f, err := readIDXFile(path, IDXLabelsMagic)
	if err != nil {
		return nil, err
	}
	return f.data, nil
}

// readIDXFile opens path and decodes it as an IDX file with the given magic.
func readIDXFile(path string, wantMagic uint32) (*idxFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		// *fs.PathError already names the file ("open <path>: ...").
		return nil, fmt.Errorf("idx: %w", err)
	}
	defer fh.Close()
	size := int64(-1)
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return decodeIDX(fh, path, wantMagic, size)
}

// decodeIDX decodes an IDX stream, gunzipping it first if it starts with
// the gzip magic bytes 0x1f 0x8b. size is the byte size of r when known
// (raw files) or -1; it lets truncation be detected before reading. name is
// used in error messages.
func decodeIDX(r io.Reader, name string, wantMagic uint32, size int64) (*idxFile, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx %s: bad gzip header: %w", name, err)
		}
		defer zr.Close()
		return parseIDX(zr, name, wantMagic, -1)
	}
	// A stream shorter than two bytes falls through: parseIDX reports it
	// as a truncated header.
	return parseIDX(br, name, wantMagic, size)
}

// parseIDX decodes an uncompressed IDX stream of unsigned bytes whose magic
// must be wantMagic. size is the total byte size of r when known, or -1.
// It never allocates much more than the data r actually holds, and rejects
// trailing bytes after the declared data (a sign of a wrong header).
func parseIDX(r io.Reader, name string, wantMagic uint32, size int64) (*idxFile, error) {
	var m [4]byte
	if n, err := io.ReadFull(r, m[:]); err != nil {
		return nil, idxShortRead(name, "header (magic number)", 4, int64(n), err)
	}
	magic := binary.BigEndian.Uint32(m[:])
	if magic != wantMagic {
		return nil, fmt.Errorf("idx %s: wrong magic number: expected %d (%s), got %d (%s)",
			name, wantMagic, describeMagic(wantMagic), magic, describeMagic(magic))
	}
	ndims := int(magic & 0xff)
	hdr := make([]byte, 4*ndims)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return nil, idxShortRead(name, "header (dimensions)", int64(len(hdr)), int64(n), err)
	}
	raw := make([]uint32, ndims)
	for i := range raw {
		raw[i] = binary.BigEndian.Uint32(hdr[4*i:])
	}
	dims := make([]int, ndims)
	total := int64(1)
	for i, d := range raw {
		if int64(d) > maxIDXElements || (d != 0 && total > maxIDXElements/int64(d)) {
			return nil, fmt.Errorf("idx %s: header declares dimensions %v: more than %d bytes of data, refusing to read",
				name, raw, int64(maxIDXElements))
		}
		total *= int64(d)
		dims[i] = int(d)
	}
	prealloc := min(total, idxPrealloc)
	if size >= 0 {
		avail := size - int64(4+len(hdr))
		if avail < total {
			return nil, fmt.Errorf("idx %s: truncated data: header declares dimensions %v, expected %d bytes of data, got %d",
				name, dims, total, max(avail, 0))
		}
		prealloc = total
	}
	data, err := readAtMost(r, total, prealloc)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("idx %s: truncated data: header declares dimensions %v, expected %d bytes of data, got %d",
				name, dims, total, len(data))
		}
		return nil, fmt.Errorf("idx %s: reading data: %w", name, err)
	}
	// One more byte must give io.EOF. This also makes a gzip reader reach
	// its trailer and verify the checksum.
	var extra [1]byte
	n, err := io.ReadFull(r, extra[:])
	if n > 0 {
		return nil, fmt.Errorf("idx %s: trailing data after the %d bytes declared by dimensions %v", name, total, dims)
	}
	if err != io.EOF {
		return nil, fmt.Errorf("idx %s: reading end of data: %w", name, err)
	}
	return &idxFile{dims: dims, data: data}, nil
}

// readAtMost reads exactly want bytes from r, starting with a buffer of
// capacity prealloc and doubling it as data arrives. If r ends early it
// returns the bytes read and io.ErrUnexpectedEOF.
func readAtMost(r io.Reader, want, prealloc int64) ([]byte, error) {
	buf := make([]byte, 0, prealloc)
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			newCap := min(max(2*int64(cap(buf)), 4096), want)
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return buf, io.ErrUnexpectedEOF
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// idxShortRead builds the error for a header that could not be read in full.
func idxShortRead(name, what string, want, got int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("idx %s: truncated %s: expected %d bytes, got %d", name, what, want, got)
	}
	return fmt.Errorf("idx %s: reading %s: %w", name, what, err)
}

// describeMagic explains an IDX magic number in words for error messages.
func describeMagic(m uint32) string {
	switch m {
	case IDXImagesMagic:
		return "0x00000803, uint8 images file"
	case IDXLabelsMagic:
		return "0x00000801, uint8 labels file"
	}
	if m>>16 != 0 {
		return fmt.Sprintf("0x%08x, not an IDX file", m)
	}
	return fmt.Sprintf("0x%08x, IDX type 0x%02x with %d dimensions", m, (m>>8)&0xff, m&0xff)
}
