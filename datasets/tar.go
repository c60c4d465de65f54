package datasets

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// walkTar streams the tar archive r (gzip-compressed when it starts with
// the gzip magic bytes 0x1f 0x8b, plain otherwise) and calls fn for each
// folder and regular file in archive order, without unpacking anything.
// Entry names are cleaned ("./train/x.jpg" → "train/x.jpg"). Symbolic and
// hard links, devices and other special entries are skipped: they cannot be
// resolved while streaming. The gzip checksum is verified once the archive
// ends, so a corrupt .tar.gz is an error even when the tar data happens to
// parse. name (the archive's path) prefixes every error.
func walkTar(r io.Reader, name string, fn walkFunc) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var (
		tr *tar.Reader
		zr *gzip.Reader
	)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return fmt.Errorf("%s: bad gzip header: %w", name, err)
		}
		defer zr.Close()
		tr = tar.NewReader(zr)
	} else {
		tr = tar.NewReader(br)
	}
	entries, last := 0, ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if entries == 0 {
				return fmt.Errorf("%s: reading tar archive: %w", name, err)
			}
			return fmt.Errorf("%s: reading tar archive after %s (%d entries): %w", name, last, entries, err)
		}
		entries++
		last = hdr.Name
		ename := cleanTarName(hdr.Name)
		if ename == "" {
			continue
		}
		var e sourceEntry
		var open func() (io.Reader, error)
		switch hdr.Typeflag {
		case tar.TypeDir:
			e = sourceEntry{Name: ename, Dir: true}
		case tar.TypeReg:
			if hdr.Size < 0 {
				return fmt.Errorf("%s: %s: negative size %d in tar header", name, ename, hdr.Size)
			}
			e = sourceEntry{Name: ename, Size: hdr.Size}
			open = func() (io.Reader, error) { return tr, nil }
		default:
			continue
		}
		if err := fn(e, open); err != nil {
			if errors.Is(err, errStopWalk) {
				return nil
			}
			return err
		}
	}
	if entries == 0 {
		return fmt.Errorf("%s: empty tar archive (or not a tar archive)", name)
	}
	if zr != nil {
		// The tar end marker may precede the end of the gzip stream; read
		// the rest so that the gzip reader checks its CRC-32 and length.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fmt.Errorf("%s: gzip stream after the tar data: %w", name, err)
		}
	}
	return nil
}

// cleanTarName turns a tar entry name into a clean relative path: leading
// "/" and "./" are dropped, "a//b/../c" becomes "a/c", and the archive's
// root itself ("." or "/") becomes "".
func cleanTarName(n string) string {
	n = path.Clean("/" + strings.TrimLeft(n, "/"))
	n = strings.TrimPrefix(n, "/")
	if n == "." {
		return ""
	}
	return n
}
