//go:build dnnl

package dnnl

import "testing"

// TestAnalyseBatchStaysInItsBuffers runs AnalyseBatch on channel counts around the vector width of its C kernels
// (four channels per vector, the rest one by one), with every output slice followed by guard values in its backing
// array, and fails if the kernels write past any buffer. (That the values are right is analysis'
// TestKernelsMatchReference, run in this build.)
func TestAnalyseBatchStaysInItsBuffers(t *testing.T) {
	for _, c := range []int{1, 3, 4, 5, 8, 13} {
		for _, hw := range []int{1, 3, 16} {
			for _, n := range []int{1, 7} {
				const nb, nh, nnb = 10, 50, 80
				mk := func(k int) []float64 {
					s := make([]float64, k+4)
					for i := k; i < k+4; i++ {
						s[i] = 777
					}
					return s
				}
				mi := func(k int) []int64 {
					s := make([]int64, k+4)
					for i := k; i < k+4; i++ {
						s[i] = 777
					}
					return s
				}
				act := make([]float32, n*c*hw)
				next := make([]float32, n*c*hw)
				for i := range act {
					act[i] = float32(i%7)/3 - 1
					next[i] = float32(i%5)*3e37 - 2
				}
				sat, zh, nhh, ys, up, dn, as, ts, sp, ns := mk(c*nb), mi(c*nh), mi(c*(nnb+2)), mk(c), mi(c), mi(c), mk(3*c), mk(c), mi(c), mk(2*c)
				o := &AnalysisOut{Sat: sat[:c*nb], ZHist: zh[:c*nh], NHist: nhh[:c*(nnb+2)], YSum: ys[:c], Up: up[:c], Down: dn[:c], ActSums: as[:3*c], TSum: ts[:c], Sparse: sp[:c], NextSums: ns[:2*c]}
				l := AnalysisLayer{N: n, C: c, HW: hw, Bounded: true, Sum: 0, Inv: 0.5, Hi: 0.9, Lo: -0.9, Bins: nb, HistBins: nh, NextBins: nnb, NextLo: -4, NextScale: 10, Tau: 0.1}
				if err := AnalyseBatch(l, act, next, make([]float64, c), make([]float64, c), o); err != nil {
					t.Fatal(err)
				}
				for name, s := range map[string][]float64{"sat": sat[c*nb:], "ys": ys[c:], "as": as[3*c:], "ts": ts[c:], "ns": ns[2*c:]} {
					for _, v := range s {
						if v != 777 {
							t.Errorf("%s overwritten: %v", name, s)
							break
						}
					}
				}
				for name, s := range map[string][]int64{"zh": zh[c*nh:], "nh": nhh[c*(nnb+2):], "up": up[c:], "dn": dn[c:], "sp": sp[c:]} {
					for _, v := range s {
						if v != 777 {
							t.Errorf("%s overwritten: %v", name, s)
							break
						}
					}
				}
			}
		}
	}
}
