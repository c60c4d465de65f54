package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestCheckFlags(t *testing.T) {
	rules := FlagRules{Positive: []string{"lr"}, NonNegative: []string{"n", "wd"}}
	parse := func(args ...string) error {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Float64("lr", 0, "")       // 0 = "not given"
		fs.Float64("wd", 0.1, "")     //
		fs.Int("n", -1, "")           // -1 = "not given"
		fs.String("name", "NaN", "")  // a string flag is not a number
		fs.Float64("delta", 0.05, "") // no range rule: only finite
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return CheckFlags(fs, rules)
	}
	if err := parse(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := parse("-lr", "0.5", "-n", "0", "-wd", "0", "-delta", "-3", "-name", "Inf"); err != nil {
		t.Fatalf("good values: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-lr", "NaN"}, "-lr: must be a finite number, got NaN"},
		{[]string{"-delta", "+Inf"}, "-delta: must be a finite number, got +Inf"},
		{[]string{"-wd", "-Inf"}, "-wd: must be a finite number"},
		{[]string{"-lr", "0"}, "-lr: must be positive, got 0"},
		{[]string{"-n", "-5"}, "-n: must not be negative, got -5"},
		{[]string{"-wd", "-0.1"}, "-wd: must not be negative"},
	} {
		err := parse(c.args...)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error %q", c.args, err, c.want)
		}
	}
}
