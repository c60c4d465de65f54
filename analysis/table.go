package analysis

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// FormatTable writes a text table of the reports, aligned with
// text/tabwriter: one row per layer name and, for each report, a column group
// of saturation, asymmetric saturation, mean |skewness| and sparsity. Given
// several reports, the groups stand side by side and rows are matched by
// layer name, in the order the names first appear (the first report's model
// order, then layers only later reports have). Null metrics and layers a
// report lacks print as "-"; numbers print with four decimals.
//
// A group is labelled by its report's Placement when the reports' placements
// differ, otherwise by Model/Activation (with /Placement or a #index added
// when that still does not tell them apart).
func FormatTable(w io.Writer, reports ...*Report) error {
	for i, r := range reports {
		if r == nil {
			return fmt.Errorf("analysis: FormatTable: report %d is nil", i)
		}
	}
	names := layerNames(reports)
	labels := tableLabels(reports)

	// The body (column names and one row per layer) is aligned by
	// tabwriter; the group labels above it are then placed at the start of
	// each group's first column, so that they do not widen that column.
	var body bytes.Buffer
	tw := tabwriter.NewWriter(&body, 0, 0, 2, ' ', 0)
	row := func(cells []string) {
		// Writes to a tabwriter only buffer; Flush reports errors.
		_, _ = io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	head := []string{"layer"}
	for range labels {
		head = append(head, "sat", "asym", "|skew|", "sparsity")
	}
	row(head)
	for _, name := range names {
		cells := []string{name}
		for _, r := range reports {
			l, ok := r.Layer(name)
			if !ok {
				cells = append(cells, "-", "-", "-", "-")
				continue
			}
			sp := l.Sparsity
			cells = append(cells, fmtMetric(l.Saturation), fmtMetric(l.AsymmetricSaturation),
				fmtMetric(l.SkewnessAbsMean), fmtMetric(&sp))
		}
		row(cells)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("analysis: FormatTable: %w", err)
	}

	// Column starts of the header line: field 1 + 4g starts group g.
	header, _, _ := bytes.Cut(body.Bytes(), []byte("\n"))
	var starts []int
	for i := range header {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	var top strings.Builder
	if len(labels) == 0 {
		top.WriteString("(no reports)")
	}
	for g, lab := range labels {
		at := starts[1+4*g]
		if top.Len() > 0 && top.Len() >= at {
			top.WriteByte(' ')
		}
		for top.Len() < at {
			top.WriteByte(' ')
		}
		top.WriteString(lab)
	}
	top.WriteByte('\n')
	if _, err := io.WriteString(w, top.String()); err != nil {
		return fmt.Errorf("analysis: FormatTable: %w", err)
	}
	if _, err := w.Write(body.Bytes()); err != nil {
		return fmt.Errorf("analysis: FormatTable: %w", err)
	}
	return nil
}

// fmtMetric formats a metric with four decimals, or "-" when it is null.
func fmtMetric(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f", *v)
}

// tableLabels returns one distinct column-group label per report: the
// Placement when the placements are distinct, else Model/Activation, else
// Model/Activation/Placement, else that with "#i" appended.
func tableLabels(reports []*Report) []string {
	candidates := []func(r *Report) string{
		func(r *Report) string { return r.Placement },
		func(r *Report) string { return r.Model + "/" + r.Activation },
		func(r *Report) string { return r.Model + "/" + r.Activation + "/" + r.Placement },
	}
	labels := make([]string, len(reports))
	for _, cand := range candidates {
		for i, r := range reports {
			labels[i] = cand(r)
		}
		if distinct(labels) {
			return labels
		}
	}
	for i, l := range labels {
		if strings.Trim(l, "/") == "" {
			l = "report"
		}
		labels[i] = fmt.Sprintf("%s#%d", l, i+1)
	}
	return labels
}

// distinct reports whether the labels are non-empty and pairwise different.
func distinct(labels []string) bool {
	seen := make(map[string]bool, len(labels))
	for _, l := range labels {
		if l == "" || l == "/" || l == "//" || seen[l] {
			return false
		}
		seen[l] = true
	}
	return true
}
