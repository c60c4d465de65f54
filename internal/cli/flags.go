package cli

import (
	"flag"
	"math"
)

// FlagRules are range rules for the flags of one command, by flag name (without the dash). They apply to the
// flags given on the command line, so a default that means "not given" (such as -1 or 0) stays usable.
type FlagRules struct {
	Positive    []string // int or float flags that must be > 0
	NonNegative []string // int or float flags that must be ≥ 0
}

// CheckFlags validates fs after parsing and returns a usage error naming the first bad flag: every float64 flag
// must be finite — the flag package parses "NaN", "Inf" and "1e999" (as +Inf) without complaint, and such a value
// otherwise fails much later, unnamed, or passes comparisons such as lr < 0 and is silently ignored — and the
// flags given on the command line must obey rules. Programs call it before they create any file or directory.
func CheckFlags(fs *flag.FlagSet, rules FlagRules) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := floatValue(f); ok && err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			err = UsageError(f.Name, "must be a finite number, got %v", v)
		}
	})
	if err != nil {
		return err
	}
	given := map[string]*flag.Flag{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f })
	for _, r := range []struct {
		names []string
		ok    func(float64) bool
		want  string
	}{
		{rules.Positive, func(v float64) bool { return v > 0 }, "must be positive"},
		{rules.NonNegative, func(v float64) bool { return v >= 0 }, "must not be negative"},
	} {
		for _, name := range r.names {
			f, ok := given[name]
			if !ok {
				continue
			}
			if v, ok := numberValue(f); ok && !r.ok(v) {
				return UsageError(name, "%s, got %s", r.want, f.Value.String())
			}
		}
	}
	return nil
}

// floatValue is the value of a float64 flag.
func floatValue(f *flag.Flag) (float64, bool) {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return 0, false
	}
	v, ok := g.Get().(float64)
	return v, ok
}

// numberValue is the value of an int, int64, uint or float64 flag as a float64.
func numberValue(f *flag.Flag) (float64, bool) {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return 0, false
	}
	switch v := g.Get().(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
