package layers

// The pure-Go convolution kernels behind Conv2dOp. They are compiled in every build: the default build runs them
// for both dtypes, and a -tags dnnl build still runs them for float64 (oneDNN's convolutions are float32 only) and
// compares oneDNN against them in its tests.
//
// Every GEMM is C = A·Bᵀ on row-major operands whose shared dimension is contiguous in both (gonum's "NoTrans,
// Trans" case). gonum computes each element of that case with its SSE dot kernel, about 2–3× faster than the
// axpy-based NoTrans/NoTrans and Trans/NoTrans cases that Gorgonia's Conv2d runs; the kernels below lay out their
// scratch matrices to stay in that case:
//
//	forward         y_n[O, Ho·Wo]  = W[O, C·k·k] · rows(x_n)ᵀ        rows: im2row, one patch per row
//	input gradient  dx_n[C, H·W]   = W̃[C, O·k·k] · rows(dy_n)ᵀ       stride 1: a convolution of dy, padded by
//	                                                                  k−1−pad, with the flipped, transposed filter
//	                col[C·k·k, Ho·Wo] = Wᵀ[C·k·k, O] · (dy_nᵀ)ᵀ, col2im   stride > 1
//	filter gradient dW[O, C·k·k]  += dy_g[O, K] · col_g[C·k·k, K]ᵀ   col: im2col of a group of images, K = images·Ho·Wo
//
// A 1×1, stride-1, unpadded convolution needs no im2col in the filter gradient (the (C, H·W) input plane is the
// patch matrix); its forward and input-gradient patch matrices are plain transposes (im2row with k = 1), cheap next
// to GEMMs in the fast case.
//
// GEMMs are tiled so that gonum runs each tile serially: all parallelism comes from parallelFor over images (or
// fixed chunks of images), and every output element is summed by one goroutine in an order fixed by the geometry
// alone, so results are bit-identical whatever GOMAXPROCS is. (gonum's float32 dot product also peels elements
// until its second operand is 16-byte aligned; that operand is always a scratch buffer, or an input plane only when
// it is aligned like one, so the bits do not depend on where the caller's tensors happen to sit either.)

import (
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

var blasImpl gonum.Implementation

const (
	// gemmTileM and gemmTileN bound the GEMM tiles. gonum parallelises a GEMM over 64×64 blocks of C once it has
	// four of them; tiles of at most 64×192 stay below that, so each tile runs serially on the calling goroutine
	// (and gonum's per-element dot products run over the whole shared dimension). 32×32 measured as fast as any
	// other tile shape on the VGG- and ResNet-like layers and keeps a tile of B in L2.
	gemmTileM, gemmTileN = 32, 32

	// convMinDot is the shortest shared dimension the filter gradient's GEMM gets: layers with fewer than this many
	// output pixels per image process several images per GEMM.
	convMinDot = 256

	// convFilterChunks is the most partial filter gradients computed in parallel. It is a constant (not
	// GOMAXPROCS) so that the summation order, and hence the result, does not depend on the machine.
	convFilterChunks = 8

	// convFilterTasks is the number of tasks the filter gradient aims for when the batch gives fewer chunks: it
	// then splits the input channels as well.
	convFilterTasks = 8
)

// gemmNT computes c = a·bᵀ + beta·c, with a m×k (rows lda apart), b n×k (rows ldb apart) and c m×n (rows ldc apart).
func gemmNT[T float](m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for j := 0; j < n; j += gemmTileN {
		nj := min(gemmTileN, n-j)
		for i := 0; i < m; i += gemmTileM {
			mi := min(gemmTileM, m-i)
			switch a := any(a).(type) {
			case []float32:
				blasImpl.Sgemm(blas.NoTrans, blas.Trans, mi, nj, k, 1, a[i*lda:], lda, any(b).([]float32)[j*ldb:], ldb,
					float32(beta), any(c).([]float32)[i*ldc+j:], ldc)
			case []float64:
				blasImpl.Dgemm(blas.NoTrans, blas.Trans, mi, nj, k, 1, a[i*lda:], lda, any(b).([]float64)[j*ldb:], ldb,
					float64(beta), any(c).([]float64)[i*ldc+j:], ldc)
			default:
				panic("gemmNT: float32 or float64 slices only")
			}
		}
	}
}

// padImage copies chans planes of ih×iw from src into dst as planes of (ih+2q)×(iw+2q), with zeros around them
// (q < 0 crops instead).
func padImage[T float](src []T, chans, ih, iw, q int, dst []T) {
	ip, op := ih*iw, (ih+2*q)*(iw+2*q)
	for c := 0; c < chans; c++ {
		padPlane(src[c*ip:(c+1)*ip], ih, iw, q, dst[c*op:(c+1)*op])
	}
}

// im2row writes the patch matrix of chans planes of ph×pw (already padded): row oy·ow + ox of rows holds the
// chans·k·k inputs of output pixel (oy, ox) for stride s, ordered (c, ky, kx) as the filter's (C, k, k) axes.
func im2row[T float](p []T, chans, ph, pw, k, s, oh, ow int, rows []T) {
	ckk, plane := chans*k*k, ph*pw
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			dst := rows[(oy*ow+ox)*ckk : (oy*ow+ox+1)*ckk]
			base := oy*s*pw + ox*s
			switch k {
			case 1:
				src := p[base:]
				for c := range dst {
					dst[c] = src[c*plane]
				}
			case 3:
				for c := 0; c < chans; c++ {
					src := p[c*plane+base:]
					r0, r1, r2 := src[0:3:3], src[pw:pw+3:pw+3], src[2*pw:2*pw+3:2*pw+3]
					d := dst[c*9 : c*9+9 : c*9+9]
					d[0], d[1], d[2] = r0[0], r0[1], r0[2]
					d[3], d[4], d[5] = r1[0], r1[1], r1[2]
					d[6], d[7], d[8] = r2[0], r2[1], r2[2]
				}
			default:
				for c := 0; c < chans; c++ {
					for ky := 0; ky < k; ky++ {
						src := p[c*plane+base+ky*pw:]
						copy(dst[(c*k+ky)*k:(c*k+ky+1)*k], src[:k])
					}
				}
			}
		}
	}
}

// im2col writes the transposed patch matrix of chans planes of ph×pw (already padded): row (c·k + ky)·k + kx of
// col (rows ld apart) gets, from column off on, the oh·ow inputs that filter tap (c, ky, kx) meets for stride s.
func im2col[T float](p []T, chans, ph, pw, k, s, oh, ow int, col []T, ld, off int) {
	plane := ph * pw
	for c := 0; c < chans; c++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := col[((c*k+ky)*k+kx)*ld+off:]
				src := p[c*plane+ky*pw+kx:]
				for oy := 0; oy < oh; oy++ {
					srow, drow := src[oy*s*pw:], row[oy*ow:(oy+1)*ow]
					if s == 1 {
						copy(drow, srow[:ow])
						continue
					}
					for ox := range drow {
						drow[ox] = srow[ox*s]
					}
				}
			}
		}
	}
}

// col2im is im2col's adjoint: it adds row (c·k + ky)·k + kx of col (oh·ow values) into the inputs of chans planes
// of ph×pw that filter tap (c, ky, kx) meets for stride s.
func col2im[T float](col []T, chans, ph, pw, k, s, oh, ow int, p []T) {
	plane, ohw := ph*pw, oh*ow
	for c := 0; c < chans; c++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := col[((c*k+ky)*k+kx)*ohw:]
				dst := p[c*plane+ky*pw+kx:]
				for oy := 0; oy < oh; oy++ {
					drow, srow := dst[oy*s*pw:], row[oy*ow:(oy+1)*ow]
					for ox, v := range srow {
						drow[ox*s] += v
					}
				}
			}
		}
	}
}

// transposeTo writes the transpose of the r×c matrix src into dst (c×r), in 32×32 blocks.
func transposeTo[T float](src []T, r, c int, dst []T) {
	const b = 32
	for i0 := 0; i0 < r; i0 += b {
		for j0 := 0; j0 < c; j0 += b {
			for i := i0; i < min(i0+b, r); i++ {
				row := src[i*c : (i+1)*c]
				for j := j0; j < min(j0+b, c); j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// convForward computes y from x and w, one image per task: pad, im2row into the worker's scratch, then one GEMM
// into the image's (O, Ho·Wo) block of y.
func convForward[T float](g convGeom, x, w, y []T) {
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(g.n, g.n*g.o*g.ckk*g.ohw, func() func(int) {
		var padded, rows []T
		return func(n int) {
			in := x[n*g.inSize : (n+1)*g.inSize]
			if g.pad != 0 {
				padded = scratch(padded, g.c*ph*pw)
				padImage(in, g.c, g.h, g.w, g.pad, padded)
				in = padded
			}
			rows = scratch(rows, g.ohw*g.ckk)
			im2row(in, g.c, ph, pw, g.k, g.stride, g.ho, g.wo, rows)
			gemmNT(g.o, g.ohw, g.ckk, w, g.ckk, rows, g.ckk, 0, y[n*g.outSz:(n+1)*g.outSz], g.ohw)
		}
	})
}

// convGradInput computes dx from w and dy, one image per task. With stride 1 the transposed convolution is a
// convolution of dy, padded by k − 1 − pad (cropped when that is negative), with the filter flipped in space and
// with its channel axes swapped: the forward kernel, no col2im. With larger strides it computes the patch-gradient
// matrix Wᵀ·dy_n and scatters it back with col2im.
func convGradInput[T float](g convGeom, w, dy, dx []T) {
	kk := g.k * g.k
	work := g.n * g.o * g.ckk * g.ohw
	if g.stride == 1 {
		okk := g.o * kk
		wf := make([]T, g.c*okk) // wf[c, o, ky, kx] = w[o, c, k−1−ky, k−1−kx]
		for o := 0; o < g.o; o++ {
			for c := 0; c < g.c; c++ {
				src, dst := w[(o*g.c+c)*kk:(o*g.c+c+1)*kk], wf[(c*g.o+o)*kk:(c*g.o+o+1)*kk]
				for t := range dst {
					dst[t] = src[kk-1-t]
				}
			}
		}
		q := g.k - 1 - g.pad
		ph, pw := g.ho+2*q, g.wo+2*q
		parallelFor(g.n, work, func() func(int) {
			var padded, rows []T
			return func(n int) {
				in := dy[n*g.outSz : (n+1)*g.outSz]
				if q != 0 {
					padded = scratch(padded, g.o*ph*pw)
					padImage(in, g.o, g.ho, g.wo, q, padded)
					in = padded
				}
				rows = scratch(rows, g.hw*okk)
				im2row(in, g.o, ph, pw, g.k, 1, g.h, g.w, rows)
				gemmNT(g.c, g.hw, okk, wf, okk, rows, okk, 0, dx[n*g.inSize:(n+1)*g.inSize], g.hw)
			}
		})
		return
	}
	wt := make([]T, g.ckk*g.o)
	transposeTo(w, g.o, g.ckk, wt)
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(g.n, work, func() func(int) {
		var dyT, col, padded []T
		return func(n int) {
			dyT = scratch(dyT, g.ohw*g.o)
			transposeTo(dy[n*g.outSz:(n+1)*g.outSz], g.o, g.ohw, dyT)
			col = scratch(col, g.ckk*g.ohw)
			gemmNT(g.ckk, g.ohw, g.o, wt, g.o, dyT, g.o, 0, col, g.ohw)
			padded = scratch(padded, g.c*ph*pw)
			clear(padded)
			col2im(col, g.c, ph, pw, g.k, g.stride, g.ho, g.wo, padded)
			padImage(padded, g.c, ph, pw, -g.pad, dx[n*g.inSize:(n+1)*g.inSize])
		}
	})
}

// convFilterPlan splits the filter gradient into tasks, by the geometry alone: images are taken in groups of size
// (the last may be smaller), one GEMM per group; consecutive groups form chunks, each with its own partial
// gradient; and when there are fewer than convFilterTasks chunks, the input channels are split into parts, each
// task computing its part's columns of the chunk's partial.
func convFilterPlan(g convGeom) (size, groups, chunks, parts int) {
	size = 1
	if g.ohw < convMinDot {
		size = min(g.n, (convMinDot+g.ohw-1)/g.ohw)
	}
	groups = (g.n + size - 1) / size
	chunks = min(groups, convFilterChunks)
	parts = min(g.c, (convFilterTasks+chunks-1)/chunks)
	return size, groups, chunks, parts
}

// convGradFilter computes dw from x and dy. Task (chunk, part) accumulates, in group order, the columns of its
// channel part in its chunk's partial gradient (chunk 0's is dw itself); the partials are then added into dw in
// chunk order. Both orders are fixed by the geometry, so dw is deterministic.
func convGradFilter[T float](g convGeom, x, dy, dw []T) {
	size, groups, chunks, parts := convFilterPlan(g)
	kk := g.k * g.k
	partials := make([][]T, chunks)
	partials[0] = dw
	for i := 1; i < chunks; i++ {
		partials[i] = make([]T, len(dw))
	}
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(chunks*parts, g.n*g.o*g.ckk*g.ohw, func() func(int) {
		var padded, col, dyg []T
		return func(task int) {
			ci, pi := task/parts, task%parts
			c0, c1 := pi*g.c/parts, (pi+1)*g.c/parts
			pc := c1 - c0 // channels in this part: columns c0·k² … c1·k² of dw
			part := partials[ci][c0*kk:]
			beta := T(0)
			for gi := ci * groups / chunks; gi < (ci+1)*groups/chunks; gi++ {
				n0, n1 := gi*size, min(g.n, (gi+1)*size)
				kdim := (n1 - n0) * g.ohw
				var a, b []T
				if n1-n0 == 1 {
					a = dy[n0*g.outSz : (n0+1)*g.outSz]
				} else {
					dyg = scratch(dyg, g.o*kdim)
					for n := n0; n < n1; n++ {
						for o := 0; o < g.o; o++ {
							src := dy[n*g.outSz+o*g.ohw : n*g.outSz+(o+1)*g.ohw]
							copy(dyg[o*kdim+(n-n0)*g.ohw:], src)
						}
					}
					a = dyg
				}
				if n1-n0 == 1 && g.pointwise && aligned16(x[n0*g.inSize+c0*g.hw:]) {
					// The (C, H·W) plane is already the patch matrix. gonum's float32 dot product peels elements
					// until its second operand is 16-byte aligned, and the scratch buffer is, so using the plane
					// only when it is aligned too gives the same bits as copying it.
					b = x[n0*g.inSize+c0*g.hw : n0*g.inSize+c1*g.hw]
				} else {
					col = scratch(col, pc*kk*kdim)
					for n := n0; n < n1; n++ {
						in := x[n*g.inSize+c0*g.hw : n*g.inSize+c1*g.hw]
						if g.pad != 0 {
							padded = scratch(padded, pc*ph*pw)
							padImage(in, pc, g.h, g.w, g.pad, padded)
							in = padded
						}
						im2col(in, pc, ph, pw, g.k, g.stride, g.ho, g.wo, col, kdim, (n-n0)*g.ohw)
					}
					b = col
				}
				gemmNT(g.o, pc*kk, kdim, a, kdim, b, kdim, beta, part, g.ckk)
				beta = 1
			}
		}
	})
	if chunks == 1 {
		return
	}
	parallelFor(g.o, g.o*g.ckk*chunks, func() func(int) {
		return func(o int) {
			row := dw[o*g.ckk : (o+1)*g.ckk]
			for _, p := range partials[1:] {
				for j, v := range p[o*g.ckk : (o+1)*g.ckk] {
					row[j] += v
				}
			}
		}
	})
}

// aligned16 reports whether v starts on a 16-byte boundary.
func aligned16[T float](v []T) bool {
	return len(v) > 0 && uintptr(unsafe.Pointer(&v[0]))%16 == 0
}
