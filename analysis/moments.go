package analysis

import "math"

// moments holds the count, mean and the second and third central moment sums
// (M2 = Σ(x−mean)², M3 = Σ(x−mean)³) of a set of values.
type moments struct {
	n            int64
	mean, m2, m3 float64
}

// merge folds b into m with the pairwise formulas of Chan, Golub & LeVeque
// (extended to the third moment by Terriberry):
//
//	δ    = mean_b − mean_a
//	mean = mean_a + δ·n_b/n
//	M2   = M2_a + M2_b + δ²·n_a·n_b/n
//	M3   = M3_a + M3_b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2_b − n_b·M2_a)/n
func (m *moments) merge(b moments) {
	if b.n == 0 {
		return
	}
	if m.n == 0 {
		*m = b
		return
	}
	na, nb := float64(m.n), float64(b.n)
	n := na + nb
	d := b.mean - m.mean
	dn := d / n
	m3 := m.m3 + b.m3 + d*dn*dn*na*nb*(na-nb) + 3*dn*(na*b.m2-nb*m.m2)
	m2 := m.m2 + b.m2 + d*dn*na*nb
	m.n += b.n
	m.mean += dn * nb
	m.m2 = m2
	m.m3 = m3
}

// skewness returns the population skewness g1 = m3 / m2^1.5 with
// m_k = M_k / n. It is 0 when there are no values or the variance is 0, and
// never NaN or infinite.
func (m moments) skewness() float64 {
	if m.n == 0 || !(m.m2 > 0) {
		return 0
	}
	n := float64(m.n)
	v := m.m2 / n
	g := (m.m3 / n) / (v * math.Sqrt(v))
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return 0
	}
	return g
}
