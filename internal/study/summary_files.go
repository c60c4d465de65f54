package study

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Files written by WriteSummaryDir into a study directory.
const (
	SummaryMarkdown = "summary.md"
	SummaryCSV      = "summary.csv"
	RunsCSV         = "runs.csv"
	FiguresDir      = "figures"
	ComparisonsDir  = "comparisons"
)

// WriteSummaryDir writes the summary into dir: summary.md (tables and figures), summary.csv (one row per
// configuration, mean and std columns), runs.csv (one row per run), figures/*.png and, for every arch ×
// activation run in several placements (or arch × placement run with several activations), the analysis
// comparison of its lowest seed in comparisons/<name>/. Every file is written atomically.
func WriteSummaryDir(dir string, s *Summary) error {
	figs, err := writeStudyFigures(filepath.Join(dir, FiguresDir), s)
	if err != nil {
		return err
	}
	comps, err := writeComparisons(dir, s)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{SummaryCSV, s.summaryCSV},
		{RunsCSV, s.runsCSV},
		{SummaryMarkdown, func() ([]byte, error) { return []byte(s.Markdown(figs, comps)), nil }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return fmt.Errorf("study: %s: %w", filepath.Join(dir, f.name), err)
		}
		if err := atomicfile.Write(filepath.Join(dir, f.name), data); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

// pct formats an accuracy stat in percent, "–" without values.
func pct(s Stat) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.2f", 100*s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
}

// num formats a metric stat, "–" without values (an unbounded activation's saturation).
func num(s Stat) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.3f", s.Mean)
	}
	return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std)
}

// Table is the Markdown table of the rows: mean ± std over seeds.
func (s *Summary) Table() string {
	var b strings.Builder
	b.WriteString("| arch | activation | placement | runs | best acc % | final acc % | saturation | asym. saturation | \\|skew\\| | sparsity | train s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range s.Rows {
		runs := strconv.Itoa(r.Runs)
		if r.Diverged > 0 {
			runs += fmt.Sprintf(" (%d diverged)", r.Diverged)
		}
		secs := "–"
		if r.TrainSeconds.N > 0 {
			secs = fmt.Sprintf("%.0f", r.TrainSeconds.Mean)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Arch, r.Activation, r.Placement,
			runs, pct(r.BestAcc), pct(r.FinalAcc), num(r.Saturation), num(r.Asymmetric), num(r.Skewness), num(r.Sparsity), secs)
	}
	return b.String()
}

// Markdown is summary.md: what was run, the table, the relations and the figures.
func (s *Summary) Markdown(figs, comps []string) string {
	var b strings.Builder
	b.WriteString("# Study summary\n\n")
	if g := s.Grid; g != nil {
		name := g.Experiment
		if name == "" {
			name = "custom grid"
		}
		if g.Budget != "" {
			name += " / " + g.Budget
		}
		fmt.Fprintf(&b, "%s: %s × %s × %s × seeds %v on %s", name, strings.Join(g.Archs, ", "),
			strings.Join(g.Activations, ", "), strings.Join(g.Placements, ", "), g.Seeds, g.Data.Name)
		if g.Data.TrainPerClass > 0 || g.Data.TestPerClass > 0 {
			fmt.Fprintf(&b, " (%d train / %d test images per class)", g.Data.TrainPerClass, g.Data.TestPerClass)
		}
		fmt.Fprintf(&b, "; %d epochs, SGD lr %g momentum %g weight decay %g, %s schedule, batch %d, augment %s.\n\n",
			g.Train.Epochs, g.Train.LR, g.Train.Momentum, g.Train.WeightDecay, g.Train.Schedule.Kind, g.Train.BatchSize, g.Augment)
	}
	fmt.Fprintf(&b, "%d finished runs", len(s.Results))
	if s.Missing > 0 {
		fmt.Fprintf(&b, ", %d grid points not finished (not in the table)", s.Missing)
	}
	b.WriteString(". Mean ± sample std over seeds; metrics are layer averages of the final model on the test split " +
		"(saturation fields over bounded layers only, – for unbounded activations).\n\n")
	b.WriteString(s.Table())
	b.WriteString("\nCorrelation over runs of final test accuracy with each layer-averaged metric (Pearson r):\n\n")
	b.WriteString("| metric | r | runs |\n|---|---|---|\n")
	for _, rel := range s.Relations {
		r := "–"
		if !math.IsNaN(rel.R) {
			r = fmt.Sprintf("%+.3f", rel.R)
		}
		fmt.Fprintf(&b, "| %s | %s | %d |\n", rel.Metric, r, rel.N)
	}
	if len(figs) > 0 {
		b.WriteString("\n## Figures\n\n")
		for _, f := range figs {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(filepath.Base(f), ".png"), f)
		}
	}
	if len(comps) > 0 {
		b.WriteString("## Per-layer comparisons (lowest seed)\n\n")
		for _, c := range comps {
			fmt.Fprintf(&b, "- [%s](%s/comparison.md)\n", filepath.Base(c), c)
		}
	}
	return b.String()
}

func statCells(s Stat, scale float64) []string {
	if s.N == 0 {
		return []string{"", ""}
	}
	return []string{strconv.FormatFloat(scale*s.Mean, 'g', 6, 64), strconv.FormatFloat(scale*s.Std, 'g', 6, 64)}
}

func (s *Summary) summaryCSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"arch", "activation", "placement", "runs", "diverged", "seeds"}
	for _, m := range []string{"best_acc", "final_acc", "saturation", "asymmetric_saturation", "skewness_abs_mean", "sparsity", "train_seconds"} {
		header = append(header, m+"_mean", m+"_std")
	}
	_ = w.Write(header)
	for _, r := range s.Rows {
		seeds := make([]string, len(r.Seeds))
		for i, sd := range r.Seeds {
			seeds[i] = strconv.FormatInt(sd, 10)
		}
		rec := []string{r.Arch, r.Activation, r.Placement, strconv.Itoa(r.Runs), strconv.Itoa(r.Diverged), strings.Join(seeds, " ")}
		for _, st := range []Stat{r.BestAcc, r.FinalAcc, r.Saturation, r.Asymmetric, r.Skewness, r.Sparsity, r.TrainSeconds} {
			rec = append(rec, statCells(st, 1)...)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func optCell(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', 6, 64)
}

func (s *Summary) runsCSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"index", "id", "arch", "activation", "placement", "seed", "status", "epochs", "best_acc", "best_epoch",
		"final_acc", "final_train_loss", "saturation", "asymmetric_saturation", "skewness_abs_mean", "sparsity",
		"train_seconds", "analysis_seconds"})
	for _, r := range s.Results {
		p := r.Point
		_ = w.Write([]string{strconv.Itoa(p.Index), p.ID(), p.Arch, p.Activation, p.Placement, strconv.FormatInt(p.Seed, 10),
			r.Status, strconv.Itoa(r.Epochs), strconv.FormatFloat(r.BestTestAcc, 'g', 6, 64), strconv.Itoa(r.BestEpoch),
			strconv.FormatFloat(r.FinalTestAcc, 'g', 6, 64), strconv.FormatFloat(r.FinalLoss, 'g', 6, 64),
			optCell(r.Mean.Saturation), optCell(r.Mean.AsymmetricSaturation), optCell(r.Mean.SkewnessAbsMean),
			strconv.FormatFloat(r.Mean.Sparsity, 'g', 6, 64),
			strconv.FormatFloat(r.TrainSeconds, 'f', 1, 64), strconv.FormatFloat(r.AnalysisSeconds, 'f', 1, 64)})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

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
	for _, r := range s.Results {
		if r.Status != StatusDone {
			continue
		}
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
