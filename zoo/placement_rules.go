package zoo

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// PlacementRule overrides Config.Placement for the units its selector picks. Its text form, which the CLI flags,
// the study's placement axis and a saved model's metadata all use, is SELECTOR=PLACEMENT, where SELECTOR is
//
//   - first:K or last:K — the first or last K units in Describe order (K ≥ 1, at most the number of units);
//   - first:P% or last:P% — the first or last ⌊P·n/100⌋ units of the model's n (0 < P ≤ 100; it must select at
//     least one unit), so one rule fits architectures of different depths (first:50% and last:50% never overlap);
//   - anything else — a unit-name pattern in path.Match syntax ("features.0", "layer1.*", "layer*.conv2"; "*" does
//     not cross a "/", and unit names have none, so it matches any run of characters).
//
// and PLACEMENT is conventional, swapped or none. A rule that selects no unit of the model is an error.
type PlacementRule struct {
	Units     string
	Placement layers.Placement
}

// ParsePlacementRule parses SELECTOR=PLACEMENT; errors name the rule.
func ParsePlacementRule(s string) (PlacementRule, error) {
	sel, pl, ok := strings.Cut(strings.TrimSpace(s), "=")
	sel = strings.TrimSpace(sel)
	if !ok || sel == "" {
		return PlacementRule{}, fmt.Errorf("placement rule %q: want SELECTOR=PLACEMENT (for example last:2=swapped or features.0=none)", s)
	}
	p, err := layers.ParsePlacement(pl)
	if err != nil {
		return PlacementRule{}, fmt.Errorf("placement rule %q: %w", s, err)
	}
	r := PlacementRule{Units: sel, Placement: p}
	if err := r.checkSelector(); err != nil {
		return PlacementRule{}, err
	}
	return r, nil
}

// String returns the text form ParsePlacementRule takes.
func (r PlacementRule) String() string { return r.Units + "=" + r.Placement.String() }

// MarshalText implements encoding.TextMarshaler (a saved config holds rules in their text form).
func (r PlacementRule) MarshalText() ([]byte, error) {
	if err := r.checkSelector(); err != nil {
		return nil, err
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *PlacementRule) UnmarshalText(b []byte) error {
	v, err := ParsePlacementRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// rangeSelector parses "first:…" and "last:…": fromEnd, the count (or percentage) and whether it is one. ok is
// false for a name pattern.
func (r PlacementRule) rangeSelector() (fromEnd bool, n float64, percent, ok bool, err error) {
	kind, arg, found := strings.Cut(r.Units, ":")
	if !found || (kind != "first" && kind != "last") {
		return false, 0, false, false, nil
	}
	fromEnd, ok = kind == "last", true
	if percent = strings.HasSuffix(arg, "%"); percent {
		arg = strings.TrimSuffix(arg, "%")
		v, perr := strconv.ParseFloat(arg, 64)
		if perr != nil || !(v > 0 && v <= 100) {
			return fromEnd, 0, true, true, fmt.Errorf("placement rule %q: %s:P%% needs 0 < P ≤ 100", r, kind)
		}
		return fromEnd, v, true, true, nil
	}
	k, perr := strconv.Atoi(arg)
	if perr != nil || k < 1 {
		return fromEnd, 0, false, true, fmt.Errorf("placement rule %q: %s:K needs a whole number K ≥ 1 (or a percentage, %s:50%%)", r, kind, kind)
	}
	return fromEnd, float64(k), false, true, nil
}

// checkSelector checks the selector's syntax, without a model.
func (r PlacementRule) checkSelector() error {
	if strings.TrimSpace(r.Units) == "" {
		return fmt.Errorf("placement rule %q: empty selector", r)
	}
	if r.Placement < layers.Conventional || r.Placement > layers.NoBN {
		return fmt.Errorf("placement rule %q: invalid placement %v", r, r.Placement)
	}
	if _, _, _, isRange, err := r.rangeSelector(); isRange || err != nil {
		return err
	}
	if _, err := path.Match(r.Units, ""); err != nil {
		return fmt.Errorf("placement rule %q: bad unit pattern: %w", r, err)
	}
	return nil
}

// selects returns the indices into units (in Describe order) that r picks, or an error naming the rule when it
// picks none.
func (r PlacementRule) selects(units []string) ([]int, error) {
	fromEnd, n, percent, isRange, err := r.rangeSelector()
	if err != nil {
		return nil, err
	}
	var idx []int
	if isRange {
		k := int(n)
		if percent {
			k = int(n * float64(len(units)) / 100)
		}
		if k < 1 {
			return nil, fmt.Errorf("placement rule %q selects no unit: the model has %d", r, len(units))
		}
		if k > len(units) {
			return nil, fmt.Errorf("placement rule %q: the model has only %d units", r, len(units))
		}
		start := 0
		if fromEnd {
			start = len(units) - k
		}
		for i := start; i < start+k; i++ {
			idx = append(idx, i)
		}
		return idx, nil
	}
	for i, u := range units {
		if ok, _ := path.Match(r.Units, u); ok {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("placement rule %q matches no unit (units: %s)", r, strings.Join(units, ", "))
	}
	return idx, nil
}

// ParsePlacementRules parses a comma-separated list of rules ("" is none).
func ParsePlacementRules(s string) ([]PlacementRule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []PlacementRule
	for _, part := range strings.Split(s, ",") {
		r, err := ParsePlacementRule(part)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ParsePlacementSpec parses a model's whole placement in one string: a base placement, then any rules, each after a
// "+": "swapped", "conventional+last:50%=swapped", "conventional+features.0=none+features.2=swapped". It is the
// grammar of every -placement flag and of a study's placement axis.
func ParsePlacementSpec(s string) (layers.Placement, []PlacementRule, error) {
	parts := strings.Split(s, "+")
	base, err := layers.ParsePlacement(parts[0])
	if err != nil {
		return 0, nil, fmt.Errorf("placement %q: %w", s, err)
	}
	var rules []PlacementRule
	for _, p := range parts[1:] {
		r, err := ParsePlacementRule(p)
		if err != nil {
			return 0, nil, fmt.Errorf("placement %q: %w", s, err)
		}
		rules = append(rules, r)
	}
	return base, rules, nil
}

// FormatPlacementSpec is the inverse of ParsePlacementSpec.
func FormatPlacementSpec(base layers.Placement, rules []PlacementRule) string {
	var b strings.Builder
	b.WriteString(base.String())
	for _, r := range rules {
		b.WriteString("+" + r.String())
	}
	return b.String()
}

// PlacementSpecFileName writes a placement spec so that it can name a file or directory without quoting in a shell:
// ':' becomes '_', '%' "pct", '*' 'x', '?' 'q', and '[', ']', '/' and white space '_'. A plain placement name is
// unchanged ("swapped"), as are '+', '=' and '.'.
func PlacementSpecFileName(spec string) string {
	return strings.NewReplacer(":", "_", "%", "pct", "*", "x", "?", "q", "[", "_", "]", "_", "/", "_", " ", "_",
		"\t", "_").Replace(spec)
}

// PlacementSpec is the config's placement in ParsePlacementSpec's grammar.
func (c Config) PlacementSpec() string { return FormatPlacementSpec(c.Placement, c.PlacementRules) }

// UnitPlacements resolves the config's rules against its units: every unit's effective placement, by unit name.
// Rules apply in order over Config.Placement, a later rule winning where two select the same unit. It builds the
// model symbolically once to learn its unit names (placement changes no unit's name or order); a config without
// rules resolves to nil without building anything.
func (c Config) UnitPlacements() (map[string]layers.Placement, error) {
	if len(c.PlacementRules) == 0 {
		return nil, nil
	}
	base := c
	base.PlacementRules = nil
	f, err := estimate(base, tensor.Float32, true)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(f.Units))
	out := make(map[string]layers.Placement, len(f.Units))
	for i, u := range f.Units {
		names[i] = u.Name
		out[u.Name] = c.Placement
	}
	for _, r := range c.PlacementRules {
		idx, err := r.selects(names)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", c.Arch, err)
		}
		for _, i := range idx {
			out[names[i]] = r.Placement
		}
	}
	return out, nil
}

// sameModel reports whether c and o describe the same model: equal in every field, with placement compared unit by
// unit, so "swapped" and "conventional+*=swapped" are the same model.
func (c Config) sameModel(o Config) (bool, error) {
	a, b := c.key(), o.key()
	if len(c.PlacementRules) == 0 && len(o.PlacementRules) == 0 {
		return a == b, nil
	}
	a.placement, b.placement = 0, 0
	if a != b {
		return false, nil
	}
	pc, err := c.effectivePlacements()
	if err != nil {
		return false, err
	}
	po, err := o.effectivePlacements()
	if err != nil {
		return false, err
	}
	for name, p := range pc {
		if po[name] != p {
			return false, nil
		}
	}
	return len(pc) == len(po), nil
}

// effectivePlacements is UnitPlacements with a config without rules resolved too (every unit in Placement).
func (c Config) effectivePlacements() (map[string]layers.Placement, error) {
	if len(c.PlacementRules) == 0 {
		c.PlacementRules = []PlacementRule{{Units: "*", Placement: c.Placement}}
	}
	return c.UnitPlacements()
}

// configKey is a Config without its rules: comparable with ==.
type configKey struct {
	arch       string
	classes    int
	inputShape [3]int
	activation layers.Activation
	placement  layers.Placement
	width      float64
	seed       int64
}

func (c Config) key() configKey {
	return configKey{c.Arch, c.Classes, c.InputShape, c.Activation, c.Placement, c.Width, c.Seed}
}
