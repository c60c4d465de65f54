package datasets

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"slices"
	"testing"
)

func TestToCHW(t *testing.T) {
	rect := image.Rect(0, 0, 2, 1)
	gray := image.NewGray(rect)
	gray.Pix = []uint8{10, 200}
	nrgba := image.NewNRGBA(rect)
	nrgba.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 0x80}) // translucent: straight colour kept
	nrgba.SetNRGBA(1, 0, color.NRGBA{4, 5, 6, 0xff})
	rgba := image.NewRGBA(rect)
	rgba.SetRGBA(0, 0, color.RGBA{7, 8, 9, 0xff})
	rgba.SetRGBA(1, 0, color.RGBA{50, 100, 0, 0x80}) // premultiplied: straight is (99, 199, 0) after rounding
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{11, 12, 13, 0xff}, color.Gray{99}})
	pal.Pix = []uint8{1, 0}
	// A sub-image whose bounds do not start at the origin.
	big := image.NewGray(image.Rect(0, 0, 4, 3))
	for i := range big.Pix {
		big.Pix[i] = uint8(i)
	}
	sub := big.SubImage(image.Rect(1, 1, 3, 2))
	tests := []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"gray", gray, []uint8{10, 200, 10, 200, 10, 200}},
		{"nrgba", nrgba, []uint8{1, 4, 2, 5, 3, 6}},
		{"rgba", rgba, []uint8{7, 99, 8, 199, 9, 0}},
		{"paletted", pal, []uint8{99, 11, 99, 12, 99, 13}},
		{"gray sub-image", sub, []uint8{5, 6, 5, 6, 5, 6}},
	}
	for _, tc := range tests {
		got, h, w := toCHW(tc.img)
		if h != 1 || w != 2 || !slices.Equal(got, tc.want) {
			t.Errorf("%s: toCHW = %v (%d×%d), want %v (2×1)", tc.name, got, w, h, tc.want)
		}
	}
}

func TestDecodeImage(t *testing.T) {
	pix := patternCHW(3, 5, 4)
	got, h, w, err := decodeImage(pngCHW(t, pix, 5, 4), "x.png")
	if err != nil || h != 4 || w != 5 || !slices.Equal(got, pix) {
		t.Fatalf("PNG: %v %d×%d err %v; want the exact pixels", got, w, h, err)
	}
	file, want := jpegCHW(t, pix, 5, 4)
	if got, _, _, err = decodeImage(file, "x.jpg"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("colour JPEG: %v err %v, want %v", got, err, want)
	}
	file, want = grayJPEG(t, 1, 3, 3)
	if got, _, _, err = decodeImage(file, "g.jpg"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("gray JPEG: %v err %v, want %v", got, err, want)
	}
	// A sub-sampled (4:2:0) JPEG of odd size exercises COffset.
	pix = patternCHW(5, 7, 5)
	file, want = jpegCHW(t, pix, 7, 5)
	if got, _, _, err = decodeImage(file, "odd.jpg"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("7×5 JPEG: %v err %v, want %v", got, err, want)
	}
}

// hugePNG returns a valid-looking PNG header declaring w×h pixels.
func hugePNG(t *testing.T, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR data starts at 16: width, height; its CRC covers type+data.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecodeImageErrors(t *testing.T) {
	good := pngCHW(t, patternCHW(1, 4, 4), 4, 4)
	jpg, _ := jpegCHW(t, patternCHW(1, 8, 8), 8, 8)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "neither JPEG nor PNG"},
		{"text", []byte("not an image"), "neither JPEG nor PNG"},
		{"truncated PNG", good[:len(good)-20], "unreadable PNG image"},
		{"truncated PNG header", good[:12], "unreadable PNG image header"},
		{"truncated JPEG", jpg[:len(jpg)/2], "unreadable JPEG image"},
		{"huge PNG", hugePNG(t, 100000, 100000), "100000×100000 pixels"},
	}
	for _, tc := range tests {
		_, _, _, err := decodeImage(tc.data, "dir/bad.img")
		wantErr(t, tc.name, err, "dir/bad.img", tc.want)
	}
}
