package study

import (
	"fmt"
	"sort"
	"strings"
)

// LRChoice is a configuration's learning-rate sweep and the rate chosen from it: the rate with the highest mean
// final validation accuracy over the sweep seeds (a diverged run counts as accuracy 0; ties go to the earlier
// rate of the grid's list). The test split plays no part in it.
type LRChoice struct {
	Arch, Activation, Placement string
	// LRs are the grid's rates; ValAcc[i] is the mean final validation accuracy at LRs[i] over Runs[i] finished
	// sweep runs (NaN-free: a rate without runs has Runs 0 and is never chosen).
	LRs    []float64
	ValAcc []float64
	Runs   []int
	// Chosen is the chosen rate (0 while the sweep of this configuration is incomplete); Complete is true when
	// every sweep point of the configuration has finished.
	Chosen   float64
	Complete bool
}

// Config names the choice's configuration as Point.Config does.
func (c LRChoice) Config() string { return c.Arch + " " + c.Activation + " " + c.Placement }

// ChooseLRs derives every configuration's learning-rate choice from the finished sweep points among results
// (other results are ignored), in the grid's configuration order. A configuration whose sweep is incomplete gets
// Chosen 0, unless allowPartial: then the best rate among its finished sweep runs is reported (collect on a
// partial grid), still marked incomplete.
func ChooseLRs(g *Grid, results []*Result, allowPartial bool) []LRChoice {
	lrs, sweep := g.rates(), g.sweepSeeds()
	sweepSeed := map[int64]bool{}
	for _, s := range g.Seeds[:sweep] {
		sweepSeed[s] = true
	}
	type acc struct {
		sum float64
		n   int
	}
	sums := map[string][]acc{}
	for _, r := range results {
		if !sweepSeed[r.Point.Seed] {
			continue
		}
		i := indexOf(lrs, r.Point.LR)
		if i < 0 {
			continue
		}
		k := r.Point.Config()
		if sums[k] == nil {
			sums[k] = make([]acc, len(lrs))
		}
		v := r.FinalValAcc
		if r.Status != StatusDone {
			v = 0
		}
		sums[k][i].sum += v
		sums[k][i].n++
	}
	var out []LRChoice
	for _, a := range g.Archs {
		for _, act := range g.Activations {
			for _, pl := range g.Placements {
				c := LRChoice{Arch: a, Activation: act, Placement: pl, LRs: append([]float64(nil), lrs...),
					ValAcc: make([]float64, len(lrs)), Runs: make([]int, len(lrs)), Complete: true}
				s := sums[c.Config()]
				best := -1
				for i := range lrs {
					if s != nil && s[i].n > 0 {
						c.ValAcc[i], c.Runs[i] = s[i].sum/float64(s[i].n), s[i].n
						if best < 0 || c.ValAcc[i] > c.ValAcc[best] {
							best = i
						}
					}
					if c.Runs[i] < sweep {
						c.Complete = false
					}
				}
				if best >= 0 && (c.Complete || allowPartial) {
					c.Chosen = lrs[best]
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// chosenLR is the chosen rate of p's configuration, or an error naming the sweep points still missing.
func chosenLR(g *Grid, results []*Result, p Point) (float64, error) {
	for _, c := range ChooseLRs(g, results, false) {
		if c.Config() != p.Config() {
			continue
		}
		if c.Chosen > 0 {
			return c.Chosen, nil
		}
		var missing []string
		for i, lr := range c.LRs {
			if c.Runs[i] < g.sweepSeeds() {
				missing = append(missing, fmt.Sprintf("lr %g (%d of %d seeds)", lr, c.Runs[i], g.sweepSeeds()))
			}
		}
		return 0, fmt.Errorf("the learning-rate sweep of %s has not finished (missing %s): run the sweep points "+
			"(indices 0 to %d) first", p.Config(), strings.Join(missing, ", "), g.SweepPoints()-1)
	}
	return 0, fmt.Errorf("%s is not a configuration of the grid", p.Config())
}

func indexOf(xs []float64, x float64) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// sortedRates returns the rates in increasing order (figures draw them on a log axis).
func sortedRates(lrs []float64) []float64 {
	out := append([]float64(nil), lrs...)
	sort.Float64s(out)
	return out
}
