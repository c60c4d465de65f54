package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Limits that keep a hostile or broken file from exhausting memory.
const (
	// maxImageBytes is the largest image file read into memory.
	maxImageBytes = 64 << 20
	// maxImagePixels is the largest width×height decoded (a 4096×4096
	// image). Headers are checked before decoding, so a small file that
	// declares huge dimensions is rejected without allocating them.
	maxImagePixels = 1 << 24
)

// decodeImage decodes a JPEG or PNG file (recognised from its first bytes,
// not its name) into 3-channel CHW uint8 pixels: the R plane, then G, then
// B, each row-major. Every image becomes RGB, as torchvision's ImageFolder
// loader does with PIL's convert("RGB"): a grayscale image gives three
// identical planes, and an alpha channel is dropped (straight, not
// premultiplied, colour values are kept). name prefixes errors.
func decodeImage(data []byte, name string) (pix []uint8, h, w int, err error) {
	defer func() {
		// The standard decoders are not expected to panic, but a loader
		// of untrusted files must turn any such bug into an error naming
		// the file rather than crash a training run.
		if r := recover(); r != nil {
			pix, h, w, err = nil, 0, 0, fmt.Errorf("%s: image decoder panicked: %v", name, r)
		}
	}()
	var (
		decode       func([]byte) (image.Image, error)
		decodeConfig func([]byte) (image.Config, error)
		format       string
	)
	switch {
	case len(data) >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff:
		format = "JPEG"
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		format = "PNG"
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
	default:
		return nil, 0, 0, fmt.Errorf("%s: unreadable image: neither JPEG nor PNG (%d bytes)", name, len(data))
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: unreadable %s image header: %w", name, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, 0, 0, fmt.Errorf("%s: %s image of %d×%d pixels: want between 1 and %d pixels", name, format, cfg.Width, cfg.Height, maxImagePixels)
	}
	img, err := decode(data)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: unreadable %s image: %w", name, format, err)
	}
	pix, h, w = toCHW(img)
	return pix, h, w, nil
}

// toCHW converts img to 3-channel planar RGB bytes (R plane, G plane, B
// plane). JPEG colour (YCbCr) uses the standard JFIF conversion of
// color.YCbCrToRGB; grayscale is replicated into the three planes; images
// with alpha keep their straight (non-premultiplied) colour.
func toCHW(img image.Image) (pix []uint8, h, w int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	hw := h * w
	pix = make([]uint8, 3*hw)
	rp, gp, bp := pix[:hw], pix[hw:2*hw], pix[2*hw:]
	switch m := img.(type) {
	case *image.YCbCr:
		cx, cy, ok := chromaShifts(m.SubsampleRatio)
		if !ok || b.Min != (image.Point{}) {
			for y := range h {
				for x := range w {
					yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
					ci := m.COffset(b.Min.X+x, b.Min.Y+y)
					i := y*w + x
					rp[i], gp[i], bp[i] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				}
			}
			break
		}
		// The decoder's usual case, row by row without per-pixel offset
		// calls: chroma sample (x>>cx, y>>cy) serves pixel (x, y).
		for y := range h {
			yrow := m.Y[y*m.YStride : y*m.YStride+w]
			c0 := (y >> cy) * m.CStride
			cb, cr := m.Cb[c0:], m.Cr[c0:]
			r, g, bl := rp[y*w:(y+1)*w], gp[y*w:(y+1)*w], bp[y*w:(y+1)*w]
			for x, yy := range yrow {
				r[x], g[x], bl[x] = color.YCbCrToRGB(yy, cb[x>>cx], cr[x>>cx])
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			copy(rp[y*w:], row)
			copy(gp[y*w:], row)
			copy(bp[y*w:], row)
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				i := y*w + x
				rp[i], gp[i], bp[i] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := img.At(b.Min.X+x, b.Min.Y+y)
				var r, g, bl uint8
				if rgba, ok := c.(color.RGBA); ok && rgba.A == 0xff {
					r, g, bl = rgba.R, rgba.G, rgba.B
				} else {
					n := color.NRGBAModel.Convert(c).(color.NRGBA)
					r, g, bl = n.R, n.G, n.B
				}
				i := y*w + x
				rp[i], gp[i], bp[i] = r, g, bl
			}
		}
	}
	return pix, h, w
}

// chromaShifts returns the horizontal and vertical shifts from pixel to
// chroma sample coordinates of a YCbCr subsampling ratio.
func chromaShifts(r image.YCbCrSubsampleRatio) (cx, cy int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}
