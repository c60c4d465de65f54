package analysis

// The four-channel kernels: actSums1, actMoments1, nextSums1 and nextMoments1 for channels c … c+3 at once (see
// kernels.go). The lanes are written out by hand, with each lane's sums in its own local variable, because that is
// what lets the compiler keep them in registers; a loop over lanes would not.

// rows4 returns the rows of channels c … c+3 of sample i ([n][C][hw] with
// stride C·hw), each resliced to the length of the first so that indexing
// them with the first's index needs no bounds check.
func rows4[T float32 | float64](x []T, i, c, hw, stride int) (r0, r1, r2, r3 []T) {
	o := i*stride + c*hw
	r0 = x[o : o+hw]
	r1 = x[o+hw : o+2*hw]
	r2 = x[o+2*hw : o+3*hw]
	r3 = x[o+3*hw : o+4*hw]
	return r0, r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
}

// actSums4 is actSums1 for channels c … c+3.
func actSums4[T float32 | float64](a *Accumulator, act []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	sum, inv := a.sum, a.inv
	hi, lo := 1-a.opt.Delta, -1+a.opt.Delta
	nb, nh := a.opt.Bins, a.opt.HistBins
	half, halfH := float64(nb)/2, float64(nh)/2
	b0, b1, b2, b3 := a.partSat[c*nb:(c+1)*nb], a.partSat[(c+1)*nb:(c+2)*nb], a.partSat[(c+2)*nb:(c+3)*nb], a.partSat[(c+3)*nb:(c+4)*nb]
	h0, h1, h2, h3 := a.partZ[c*nh:(c+1)*nh], a.partZ[(c+1)*nh:(c+2)*nh], a.partZ[(c+2)*nh:(c+3)*nh], a.partZ[(c+3)*nh:(c+4)*nh]
	p := a.part[c : c+4]
	s0, s1, s2, s3 := p[0].shift, p[1].shift, p[2].shift, p[3].shift
	var y0, y1, y2, y3 float64
	var u0, u1, u2, u3 int64 // band counts, packed: see bandCount
	for i := 0; i < n; i++ {
		r0, r1, r2, r3 := rows4(act, i, c, hw, stride)
		for j, x := range r0 {
			z0 := (2*float64(x) - sum) * inv
			z1 := (2*float64(r1[j]) - sum) * inv
			z2 := (2*float64(r2[j]) - sum) * inv
			z3 := (2*float64(r3[j]) - sum) * inv
			y0 += z0 - s0
			y1 += z1 - s1
			y2 += z2 - s2
			y3 += z3 - s3
			u0 += bandCount(z0, lo, hi)
			u1 += bandCount(z1, lo, hi)
			u2 += bandCount(z2, lo, hi)
			u3 += bandCount(z3, lo, hi)
			c0, c1 := min(max(z0, -1), 1)+1, min(max(z1, -1), 1)+1
			c2, c3 := min(max(z2, -1), 1)+1, min(max(z3, -1), 1)+1
			b0[binIndex(c0*half, nb)] += z0
			b1[binIndex(c1*half, nb)] += z1
			b2[binIndex(c2*half, nb)] += z2
			b3[binIndex(c3*half, nb)] += z3
			h0[binIndex(c0*halfH, nh)]++
			h1[binIndex(c1*halfH, nh)]++
			h2[binIndex(c2*halfH, nh)]++
			h3[binIndex(c3*halfH, nh)]++
		}
	}
	a.partY[c], a.partY[c+1], a.partY[c+2], a.partY[c+3] = y0, y1, y2, y3
	p[0].up, p[0].down = unpackBands(u0)
	p[1].up, p[1].down = unpackBands(u1)
	p[2].up, p[2].down = unpackBands(u2)
	p[3].up, p[3].down = unpackBands(u3)
}

// actMoments4 is actMoments1 for channels c … c+3.
func actMoments4[T float32 | float64](a *Accumulator, act []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	sum, inv := a.sum, a.inv
	p := a.part[c : c+4]
	s0, s1, s2, s3 := p[0].shift, p[1].shift, p[2].shift, p[3].shift
	cnt := float64(n * hw)
	m0, m1, m2, m3 := a.partY[c]/cnt, a.partY[c+1]/cnt, a.partY[c+2]/cnt, a.partY[c+3]/cnt
	var e0, e1, e2, e3, q0, q1, q2, q3, k0, k1, k2, k3 float64 // Σd, Σd², Σd³ per lane
	for i := 0; i < n; i++ {
		r0, r1, r2, r3 := rows4(act, i, c, hw, stride)
		for j, v := range r0 {
			d0 := ((2*float64(v)-sum)*inv - s0) - m0
			d1 := ((2*float64(r1[j])-sum)*inv - s1) - m1
			d2 := ((2*float64(r2[j])-sum)*inv - s2) - m2
			d3 := ((2*float64(r3[j])-sum)*inv - s3) - m3
			e0 += d0
			e1 += d1
			e2 += d2
			e3 += d3
			x0, x1, x2, x3 := d0*d0, d1*d1, d2*d2, d3*d3
			q0 += x0
			q1 += x1
			q2 += x2
			q3 += x3
			k0 += x0 * d0
			k1 += x1 * d1
			k2 += x2 * d2
			k3 += x3 * d3
		}
	}
	p[0].mom = centralMoments(cnt, m0, e0, q0, k0)
	p[1].mom = centralMoments(cnt, m1, e1, q1, k1)
	p[2].mom = centralMoments(cnt, m2, e2, q2, k2)
	p[3].mom = centralMoments(cnt, m3, e3, q3, k3)
}

// nextSums4 is nextSums1 for channels c … c+3.
func nextSums4[T float32 | float64](a *Accumulator, next []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	tau := T(a.opt.Tau)
	nb := a.opt.NextBins
	lo, scale := a.nextLo, a.nextScale
	w := nb + 2
	h0, h1, h2, h3 := a.partN[c*w:(c+1)*w], a.partN[(c+1)*w:(c+2)*w], a.partN[(c+2)*w:(c+3)*w], a.partN[(c+3)*w:(c+4)*w]
	p := a.part[c : c+4]
	s0, s1, s2, s3 := p[0].nshift, p[1].nshift, p[2].nshift, p[3].nshift
	var y0, y1, y2, y3 float64
	var z0, z1, z2, z3 int64 // sparse counts
	for i := 0; i < n; i++ {
		r0, r1, r2, r3 := rows4(next, i, c, hw, stride)
		for j, x0 := range r0 {
			x1, x2, x3 := r1[j], r2[j], r3[j]
			z0 += b2i(x0 <= tau) - b2i(x0 < -tau)
			z1 += b2i(x1 <= tau) - b2i(x1 < -tau)
			z2 += b2i(x2 <= tau) - b2i(x2 < -tau)
			z3 += b2i(x3 <= tau) - b2i(x3 < -tau)
			t0, t1, t2, t3 := float64(x0), float64(x1), float64(x2), float64(x3)
			y0 += t0 - s0
			y1 += t1 - s1
			y2 += t2 - s2
			y3 += t3 - s3
			h0[nextBin(t0, lo, scale, nb)]++
			h1[nextBin(t1, lo, scale, nb)]++
			h2[nextBin(t2, lo, scale, nb)]++
			h3[nextBin(t3, lo, scale, nb)]++
		}
	}
	a.partT[c], a.partT[c+1], a.partT[c+2], a.partT[c+3] = y0, y1, y2, y3
	p[0].sparse, p[1].sparse, p[2].sparse, p[3].sparse = z0, z1, z2, z3
}

// nextMoments4 is nextMoments1 for channels c … c+3.
func nextMoments4[T float32 | float64](a *Accumulator, next []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	p := a.part[c : c+4]
	s0, s1, s2, s3 := p[0].nshift, p[1].nshift, p[2].nshift, p[3].nshift
	cnt := float64(n * hw)
	m0, m1, m2, m3 := a.partT[c]/cnt, a.partT[c+1]/cnt, a.partT[c+2]/cnt, a.partT[c+3]/cnt
	var e0, e1, e2, e3, q0, q1, q2, q3 float64 // Σd, Σd² per lane
	for i := 0; i < n; i++ {
		r0, r1, r2, r3 := rows4(next, i, c, hw, stride)
		for j, v := range r0 {
			d0 := (float64(v) - s0) - m0
			d1 := (float64(r1[j]) - s1) - m1
			d2 := (float64(r2[j]) - s2) - m2
			d3 := (float64(r3[j]) - s3) - m3
			e0 += d0
			e1 += d1
			e2 += d2
			e3 += d3
			q0 += d0 * d0
			q1 += d1 * d1
			q2 += d2 * d2
			q3 += d3 * d3
		}
	}
	p[0].nmom = centralMoments2(cnt, m0, e0, q0)
	p[1].nmom = centralMoments2(cnt, m1, e1, q1)
	p[2].nmom = centralMoments2(cnt, m2, e2, q2)
	p[3].nmom = centralMoments2(cnt, m3, e3, q3)
}
