package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if o.Delta != 0.1 || o.Tau != 0.1 || o.Bins != 10 {
		t.Fatalf("DefaultOptions() = %+v, want {0.1 0.1 10}", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		opt   Options
		field string
	}{
		{Options{Delta: 0, Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: 1, Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: math.NaN(), Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: 0.1, Tau: -0.01, Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: math.NaN(), Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: math.Inf(1), Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 0}, "Bins"},
		{Options{}, "Delta"},
	}
	for _, c := range cases {
		err := c.opt.Validate()
		if err == nil || !strings.Contains(err.Error(), "Options."+c.field) {
			t.Errorf("%+v: error %v, want one naming Options.%s", c.opt, err, c.field)
		}
	}
	// Tau 0 (exact zeros only) and a single bin are valid.
	if err := (Options{Delta: 0.5, Tau: 0, Bins: 1}).Validate(); err != nil {
		t.Errorf("Tau 0, Bins 1: %v", err)
	}
}
