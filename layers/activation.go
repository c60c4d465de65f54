package layers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ActivationKind names an elementwise activation function.
type ActivationKind int

// The activations bnzoo knows. Bounded ones (all but ReLU and Identity) are the subject of the study.
const (
	ReLU        ActivationKind = iota // max(0, x); bounds [0, +Inf)
	Tanh                              // tanh(x); bounds [-1, 1]
	LeCunTanh                         // 1.7159·tanh(2x/3) (LeCun et al. 1998); bounds [-1.7159, 1.7159]
	Softsign                          // x/(1+|x|); bounds [-1, 1]
	Sigmoid                           // 1/(1+e^-x); bounds [0, 1]
	HardTanh                          // clamp(x, -1, 1); bounds [-1, 1]
	Identity                          // x; unbounded
	ShiftedTanh                       // tanh(x - s); bounds [-1, 1]
)

// lecunScale and lecunSlope are LeCun's constants: f(x) = 1.7159·tanh(2x/3), so that f(±1) ≈ ±1.
const (
	lecunScale = 1.7159
	lecunSlope = 2.0 / 3.0
)

var activationNames = []struct {
	kind ActivationKind
	name string
}{
	{ReLU, "relu"}, {Tanh, "tanh"}, {LeCunTanh, "lecun_tanh"}, {Softsign, "softsign"}, {Sigmoid, "sigmoid"},
	{HardTanh, "hardtanh"}, {Identity, "identity"}, {ShiftedTanh, "shifted_tanh"},
}

// DefaultShift is the shift s of "shifted_tanh" written without a value.
const DefaultShift = 1.0

// Activation is an activation function with its parameter. The zero value is ReLU.
//
// ShiftedTanh is tanh(x − s): the curve moved right by s, so an input of 0 maps to tanh(−s) < 0 and the unit sits
// nearer its lower bound unless something before it moves its input. A BatchNorm before the activation (conventional
// order) can learn β = s and undo the shift; a BatchNorm after it (swapped order) cannot, which is what makes the
// shift a probe of forced asymmetric saturation. The bounds stay [−1, 1]. Its name is "shifted_tanh:<s>", e.g.
// "shifted_tanh:0.5"; plain "shifted_tanh" means s = 1.
type Activation struct {
	Kind  ActivationKind
	Shift float64 // s, used by ShiftedTanh only
}

// ActivationNames lists the valid activation names, in a fixed order.
func ActivationNames() []string {
	out := make([]string, len(activationNames))
	for i, a := range activationNames {
		out[i] = a.name
	}
	return out
}

// ParseActivation parses an activation name such as "tanh" or "shifted_tanh:0.5". An unknown name is an error
// that lists the valid ones.
func ParseActivation(name string) (Activation, error) {
	base, param, hasParam := strings.Cut(strings.TrimSpace(strings.ToLower(name)), ":")
	for _, a := range activationNames {
		if a.name != base {
			continue
		}
		if a.kind != ShiftedTanh {
			if hasParam {
				return Activation{}, fmt.Errorf("activation %q takes no parameter", name)
			}
			return Activation{Kind: a.kind}, nil
		}
		s := DefaultShift
		if hasParam {
			v, err := strconv.ParseFloat(param, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return Activation{}, fmt.Errorf("activation %q: shift %q is not a finite number", name, param)
			}
			s = v
		}
		return Activation{Kind: ShiftedTanh, Shift: s}, nil
	}
	return Activation{}, fmt.Errorf("unknown activation %q (valid: %s; shifted_tanh takes :<shift>)",
		name, strings.Join(ActivationNames(), ", "))
}

// MustActivation is ParseActivation for names fixed in code; it panics on an invalid name.
func MustActivation(name string) Activation {
	a, err := ParseActivation(name)
	if err != nil {
		panic(err)
	}
	return a
}

// String returns the name ParseActivation accepts.
func (a Activation) String() string {
	for _, n := range activationNames {
		if n.kind == a.Kind {
			if a.Kind == ShiftedTanh {
				return n.name + ":" + strconv.FormatFloat(a.Shift, 'g', -1, 64)
			}
			return n.name
		}
	}
	return fmt.Sprintf("activation(%d)", int(a.Kind))
}

// MarshalText implements encoding.TextMarshaler so configs hold activations by name.
func (a Activation) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Activation) UnmarshalText(b []byte) error {
	v, err := ParseActivation(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Bounds returns the closure of the activation's range, [lower, upper]; infinite where it is unbounded.
func (a Activation) Bounds() (lower, upper float64) {
	switch a.Kind {
	case ReLU:
		return 0, math.Inf(1)
	case Tanh, Softsign, HardTanh, ShiftedTanh:
		return -1, 1
	case LeCunTanh:
		return -lecunScale, lecunScale
	case Sigmoid:
		return 0, 1
	default:
		return math.Inf(-1), math.Inf(1)
	}
}

// Bounded reports whether both bounds are finite, i.e. whether saturation metrics make sense for it.
func (a Activation) Bounded() bool {
	l, u := a.Bounds()
	return !math.IsInf(l, 0) && !math.IsInf(u, 0)
}

// eval returns f(x).
func (a Activation) eval(x float64) float64 {
	switch a.Kind {
	case ReLU:
		if x > 0 {
			return x
		}
		return 0
	case Tanh:
		return math.Tanh(x)
	case LeCunTanh:
		return lecunScale * math.Tanh(lecunSlope*x)
	case Softsign:
		return x / (1 + math.Abs(x))
	case Sigmoid:
		return sigmoid(x)
	case HardTanh:
		return math.Max(-1, math.Min(1, x))
	case ShiftedTanh:
		return math.Tanh(x - a.Shift)
	default:
		return x
	}
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
