package study

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Files written by WriteSummaryDir into a study directory.
const (
	SummaryMarkdown = "summary.md"
	SummaryCSV      = "summary.csv"
	VerdictsCSV     = "verdicts.csv"
	LRCSV           = "lr.csv"
	RunsCSV         = "runs.csv"
	FiguresDir      = "figures"
	ComparisonsDir  = "comparisons"
)

// WriteSummaryDir writes the summary into dir: summary.md (verdicts first, then the learning-rate sweep, the
// configurations at their chosen rates and the figures), verdicts.csv, lr.csv, summary.csv (one row per
// configuration at its chosen rate), runs.csv (one row per run), figures/*.png and, for every arch × activation run
// in several placements (or arch × placement run with several activations), the analysis comparison of its lowest
// seed in comparisons/<name>/. Every file is written atomically.
func WriteSummaryDir(dir string, s *Summary) error {
	figs, err := writeStudyFigures(dir, s)
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
		{VerdictsCSV, s.verdictsCSV},
		{LRCSV, s.lrCSV},
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

// Table is the Markdown table of the rows (each configuration at its chosen rate): mean ± std over seeds.
func (s *Summary) Table() string {
	var b strings.Builder
	b.WriteString("| arch | activation | placement | lr | runs | val acc % | test acc % | test acc % (best val epoch) | saturation | asym. saturation | \\|skew\\| | sparsity | train s |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Rows {
		runs := strconv.Itoa(r.Runs)
		if r.Diverged > 0 {
			runs += fmt.Sprintf(" (%d diverged)", r.Diverged)
		}
		secs := "–"
		if r.TrainSeconds.N > 0 {
			secs = fmt.Sprintf("%.0f", r.TrainSeconds.Mean)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %g | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Arch, r.Activation,
			r.Placement, r.LR, runs, pct(r.ValAcc), pct(r.TestAcc), pct(r.BestValTestAcc), num(r.Saturation),
			num(r.Asymmetric), num(r.Skewness), num(r.Sparsity), secs)
	}
	return b.String()
}

// VerdictTable is the Markdown table of the verdicts: per (arch, activation), comparison and quantity, the mean
// paired difference (swapped − conventional, …) with its 95% interval (accuracy in percentage points) and the
// learning rates of the two placements, in the comparison's order.
func (s *Summary) VerdictTable() string {
	if len(s.Verdicts) == 0 {
		return "No verdict yet: no seed has a finished run in both placements of one configuration.\n"
	}
	var b strings.Builder
	b.WriteString("| arch | activation | comparison | quantity | learning rates | seeds | difference | 95% CI | verdict |\n")
	b.WriteString("|---|---|---|---|---|--:|--:|---|---|\n")
	for _, v := range s.Verdicts {
		scale, f := 1.0, "%+.3g" // metrics: three significant digits, so a tiny difference does not read as +0.000
		if v.Metric == MetricTestAccuracy {
			scale, f = 100, "%+.2f pp"
		}
		ci := "–"
		if !math.IsNaN(v.Low) {
			ci = fmt.Sprintf("["+f+", "+f+"]", scale*v.Low, scale*v.High)
			ci = strings.Replace(ci, " pp,", ",", 1)
		}
		verdict := v.Verdict
		if v.Metric == MetricTestAccuracy {
			verdict = "**" + verdict + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %g / %g | %d | "+f+" | %s | %s |\n", v.Arch, v.Activation,
			v.Comparison(), v.Metric, v.LR, v.BaselineLR, v.N, scale*v.Mean, ci, verdict)
	}
	return b.String()
}

// LRTable is the Markdown table of the learning-rate sweep: mean final validation accuracy per rate, the chosen
// rate in bold.
func (s *Summary) LRTable() string {
	if len(s.Choices) == 0 {
		return ""
	}
	lrs := s.Choices[0].LRs
	var b strings.Builder
	b.WriteString("| arch | activation | placement |")
	for _, lr := range lrs {
		fmt.Fprintf(&b, " lr %g |", lr)
	}
	b.WriteString(" chosen |\n|---|---|---|" + strings.Repeat("--:|", len(lrs)) + "--:|\n")
	for _, c := range s.Choices {
		fmt.Fprintf(&b, "| %s | %s | %s |", c.Arch, c.Activation, c.Placement)
		for i, lr := range c.LRs {
			cell := "–"
			if c.Runs[i] > 0 {
				cell = fmt.Sprintf("%.2f", 100*c.ValAcc[i])
				if lr == c.Chosen {
					cell = "**" + cell + "**"
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		chosen := "–"
		if c.Chosen > 0 {
			chosen = strconv.FormatFloat(c.Chosen, 'g', -1, 64)
			if !c.Complete {
				chosen += " (sweep incomplete)"
			}
		}
		fmt.Fprintf(&b, " %s |\n", chosen)
	}
	return b.String()
}

// Protocol describes, in one paragraph, how the grid's runs were chosen and compared.
func (s *Summary) Protocol() string {
	g := s.Grid
	if g == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Protocol: %g of the training images of each class are held out (stratified, seed %d) as the "+
		"validation split, the same images for every run. ", g.Data.ValFraction, g.Data.ValSeed)
	rates := g.rates()
	sweep := g.sweepSeeds()
	if len(rates) > 1 {
		fmt.Fprintf(&b, "Each configuration is trained at every learning rate of %v on seed(s) %v; the rate with "+
			"the highest mean final validation accuracy is chosen per configuration", rates, g.Seeds[:sweep])
		if sweep < len(g.Seeds) {
			fmt.Fprintf(&b, ", and seeds %v are trained at that rate only", g.Seeds[sweep:])
		}
		b.WriteString(". ")
	} else {
		fmt.Fprintf(&b, "Every run uses learning rate %g. ", rates[0])
	}
	b.WriteString("The test split is evaluated once per run, after training: on the final model (the accuracy " +
		"of every table and verdict) and on the checkpoint of the best validation epoch. Verdicts pair the runs " +
		"of equal seed (same initial weights and data order) at each placement's chosen rate: swapped − " +
		"conventional per seed (and, for any other placement of the grid, it − conventional and it − swapped), its mean and 95% Student-t confidence interval over the seeds; \"no significant " +
		"difference\" when the interval holds 0. Metrics are layer averages of the final model on the test split " +
		"(saturation fields over bounded layers only).")
	return b.String()
}

// Markdown is summary.md: what was run, the verdicts, the sweep, the configurations, the relations and the
// figures.
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
			fmt.Fprintf(&b, " (%d training images per class before the hold-out, %d test images per class)", g.Data.TrainPerClass, g.Data.TestPerClass)
		}
		if len(s.Results) > 0 {
			r := s.Results[0]
			fmt.Fprintf(&b, ": %d training, %d validation and %d test images", r.TrainSamples, r.ValSamples, r.TestSamples)
		}
		fmt.Fprintf(&b, "; %d epochs, SGD momentum %g weight decay %g, %s schedule, batch %d, augment %s.\n\n",
			g.Train.Epochs, g.Train.Momentum, g.Train.WeightDecay, g.Train.Schedule.Kind, g.Train.BatchSize, g.Augment)
		b.WriteString(s.Protocol() + "\n\n")
	}
	fmt.Fprintf(&b, "%d finished runs", len(s.Results))
	if s.Missing > 0 {
		fmt.Fprintf(&b, ", %d grid points not finished (the tables show what exists)", s.Missing)
	}
	b.WriteString(".\n\n## Verdict: placement − baseline, paired by seed\n\n")
	b.WriteString(s.VerdictTable())
	if lt := s.LRTable(); lt != "" {
		b.WriteString("\n## Learning rate: mean final validation accuracy (%) over the sweep seeds\n\n" + lt)
	}
	b.WriteString("\n## Each configuration at its chosen learning rate (mean ± std over seeds)\n\n")
	b.WriteString(s.Table())
	b.WriteString("\nCorrelation over these runs of final test accuracy with each layer-averaged metric (Pearson r):\n\n")
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
	return []string{ff(scale * s.Mean), ff(scale * s.Std)}
}

// ff formats a float for CSV: 6 significant digits, empty for NaN.
func ff(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

func writeCSV(rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(rows)
	return buf.Bytes(), w.Error()
}

func (s *Summary) verdictsCSV() ([]byte, error) {
	rows := [][]string{{"arch", "activation", "placement", "baseline", "metric", "placement_lr", "baseline_lr", "seeds",
		"diffs", "mean_diff", "std_diff", "ci_low", "ci_high", "verdict"}}
	for _, v := range s.Verdicts {
		seeds, diffs := make([]string, len(v.Seeds)), make([]string, len(v.Diffs))
		for i := range v.Seeds {
			seeds[i], diffs[i] = strconv.FormatInt(v.Seeds[i], 10), ff(v.Diffs[i])
		}
		rows = append(rows, []string{v.Arch, v.Activation, v.Placement, v.Baseline, v.Metric, ff(v.LR), ff(v.BaselineLR),
			strings.Join(seeds, " "), strings.Join(diffs, " "), ff(v.Mean), ff(v.Std), ff(v.Low), ff(v.High), v.Verdict})
	}
	return writeCSV(rows)
}

func (s *Summary) lrCSV() ([]byte, error) {
	rows := [][]string{{"arch", "activation", "placement", "lr", "sweep_runs", "mean_final_val_acc", "chosen"}}
	for _, c := range s.Choices {
		for i, lr := range c.LRs {
			val := ""
			if c.Runs[i] > 0 {
				val = ff(c.ValAcc[i])
			}
			rows = append(rows, []string{c.Arch, c.Activation, c.Placement, ff(lr), strconv.Itoa(c.Runs[i]), val,
				strconv.FormatBool(lr == c.Chosen)})
		}
	}
	return writeCSV(rows)
}

func (s *Summary) summaryCSV() ([]byte, error) {
	header := []string{"arch", "activation", "placement", "lr", "runs", "diverged", "seeds"}
	for _, m := range []string{"val_acc", "test_acc", "best_val_test_acc", "saturation", "asymmetric_saturation", "skewness_abs_mean", "sparsity", "train_seconds"} {
		header = append(header, m+"_mean", m+"_std")
	}
	rows := [][]string{header}
	for _, r := range s.Rows {
		seeds := make([]string, len(r.Seeds))
		for i, sd := range r.Seeds {
			seeds[i] = strconv.FormatInt(sd, 10)
		}
		rec := []string{r.Arch, r.Activation, r.Placement, ff(r.LR), strconv.Itoa(r.Runs), strconv.Itoa(r.Diverged), strings.Join(seeds, " ")}
		for _, st := range []Stat{r.ValAcc, r.TestAcc, r.BestValTestAcc, r.Saturation, r.Asymmetric, r.Skewness, r.Sparsity, r.TrainSeconds} {
			rec = append(rec, statCells(st, 1)...)
		}
		rows = append(rows, rec)
	}
	return writeCSV(rows)
}

func optCell(v *float64) string {
	if v == nil {
		return ""
	}
	return ff(*v)
}

func (s *Summary) runsCSV() ([]byte, error) {
	rows := [][]string{{"index", "id", "arch", "activation", "placement", "lr", "seed", "status", "epochs",
		"final_val_acc", "best_val_acc", "best_val_epoch", "final_test_acc", "best_val_test_acc", "final_train_loss",
		"saturation", "asymmetric_saturation", "skewness_abs_mean", "sparsity", "train_seconds", "track_seconds",
		"analysis_seconds"}}
	for _, r := range s.Results {
		p := r.Point
		rows = append(rows, []string{strconv.Itoa(p.Index), p.ID(), p.Arch, p.Activation, p.Placement, ff(p.LR),
			strconv.FormatInt(p.Seed, 10), r.Status, strconv.Itoa(r.Epochs), ff(r.FinalValAcc), ff(r.BestValAcc),
			strconv.Itoa(r.BestValEpoch), ff(r.FinalTestAcc), ff(r.BestValTestAcc), ff(r.FinalLoss),
			optCell(r.Mean.Saturation), optCell(r.Mean.AsymmetricSaturation), optCell(r.Mean.SkewnessAbsMean),
			ff(r.Mean.Sparsity), strconv.FormatFloat(r.TrainSeconds, 'f', 1, 64),
			strconv.FormatFloat(r.TrackSeconds, 'f', 2, 64), strconv.FormatFloat(r.AnalysisSeconds, 'f', 1, 64)})
	}
	return writeCSV(rows)
}
