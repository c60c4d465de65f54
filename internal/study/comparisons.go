package study

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bnzoo/bnzoo/analysis"
)

// writeComparisons writes the analysis comparison of each group of configurations that differ in one axis: the
// placements of an arch × activation, else the activations of an arch × placement. It uses each configuration's
// lowest finished seed and returns the directories written, relative to dir.
func writeComparisons(dir string, s *Summary) ([]string, error) {
	type member struct {
		label string
		res   *Result
	}
	lowest := map[string]*Result{}
	var order []string
	var runs []*Result // the runs of the rows: each configuration at its chosen rate
	for _, row := range s.Rows {
		runs = append(runs, s.rowResults(row)...)
	}
	for _, r := range runs {
		k := r.Point.Config()
		if cur, ok := lowest[k]; !ok {
			lowest[k] = r
			order = append(order, k)
		} else if r.Point.Seed < cur.Point.Seed {
			lowest[k] = r
		}
	}
	groups := map[string][]member{}
	var names []string
	add := func(name, label string, r *Result) {
		if _, ok := groups[name]; !ok {
			names = append(names, name)
		}
		groups[name] = append(groups[name], member{label, r})
	}
	placements := map[string]map[string]bool{} // arch+act → placements seen
	for _, k := range order {
		p := lowest[k].Point
		key := p.Arch + "-" + p.Activation
		if placements[key] == nil {
			placements[key] = map[string]bool{}
		}
		placements[key][p.Placement] = true
	}
	for _, k := range order {
		p := lowest[k].Point
		if len(placements[p.Arch+"-"+p.Activation]) > 1 {
			add(p.Arch+"-"+strings.ReplaceAll(p.Activation, ":", "_"), p.Placement, lowest[k])
		} else {
			add(p.Arch+"-"+p.Placement, p.Activation, lowest[k])
		}
	}
	var written []string
	for _, name := range names {
		g := groups[name]
		if len(g) < 2 {
			continue
		}
		var reports []*analysis.Report
		var labels []string
		for _, m := range g {
			rep, err := analysis.ReadReport(filepath.Join(s.Grid.RunDir(dir, m.res.Point), ReportFile))
			if err != nil {
				return nil, fmt.Errorf("study: comparison %s: %w", name, err)
			}
			reports, labels = append(reports, rep), append(labels, m.label)
		}
		rel := filepath.Join(ComparisonsDir, name)
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
		if err := analysis.WriteComparisonDir(filepath.Join(dir, rel), reports, labels); err != nil {
			return nil, fmt.Errorf("study: comparison %s: %w", name, err)
		}
		written = append(written, rel)
	}
	return written, nil
}
