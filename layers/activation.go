package layers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ActivationKind names an elementwise activation function.
type ActivationKind int

// The activations bnzoo knows. The bounded ones (Tanh to HardTanh, ShiftedTanh) are the subject of the study; ReLU
// and the ReLU-like ones (LeakyReLU to GELU, with PyTorch's definitions and defaults) are its unbounded side.
const (
	ReLU        ActivationKind = iota // max(0, x); bounds [0, +Inf)
	Tanh                              // tanh(x); bounds [-1, 1]
	LeCunTanh                         // 1.7159·tanh(2x/3) (LeCun et al. 1998); bounds [-1.7159, 1.7159]
	Softsign                          // x/(1+|x|); bounds [-1, 1]
	Sigmoid                           // 1/(1+e^-x); bounds [0, 1]
	HardTanh                          // clamp(x, -1, 1); bounds [-1, 1]
	Identity                          // x; unbounded
	ShiftedTanh                       // tanh(x - s); bounds [-1, 1]
	LeakyReLU                         // x for x > 0, αx otherwise (α = 0.01 by default); unbounded (α > 0)
	ELU                               // x for x > 0, α(e^x − 1) otherwise (α = 1 by default); bounds [-α, +Inf)
	SiLU                              // x·sigmoid(x) (also called swish); bounds [−0.2785, +Inf)
	GELU                              // x·Φ(x) = 0.5·x·(1 + erf(x/√2)), the exact form; bounds [−0.1700, +Inf)
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
	{LeakyReLU, "leaky_relu"}, {ELU, "elu"}, {SiLU, "silu"}, {GELU, "gelu"},
}

// DefaultShift is the shift s of "shifted_tanh" written without a value.
const DefaultShift = 1.0

// DefaultLeakySlope and DefaultELUAlpha are the α of "leaky_relu" and "elu" written without a value: PyTorch's
// defaults (nn.LeakyReLU's negative_slope, nn.ELU's alpha).
const (
	DefaultLeakySlope = 0.01
	DefaultELUAlpha   = 1.0
)

// siluMin and geluMin are the minima of x·sigmoid(x) (at x ≈ −1.2785) and x·Φ(x) (at x ≈ −0.7518), rounded down
// so that the bounds enclose the range.
const (
	siluMin = -0.278464542762
	geluMin = -0.169971207480
)

// Activation is an activation function with its parameter. The zero value is ReLU.
//
// ShiftedTanh is tanh(x − s): the curve moved right by s, so an input of 0 maps to tanh(−s) < 0 and the unit sits
// nearer its lower bound unless something before it moves its input. A BatchNorm before the activation (conventional
// order) can learn β = s and undo the shift; a BatchNorm after it (swapped order) cannot, which is what makes the
// shift a probe of forced asymmetric saturation. The bounds stay [−1, 1]. Its name is "shifted_tanh:<s>", e.g.
// "shifted_tanh:0.5"; plain "shifted_tanh" means s = 1.
//
// LeakyReLU and ELU take α the same way: "leaky_relu:0.2" (plain "leaky_relu" means PyTorch's 0.01) and "elu:0.5"
// (plain "elu" means 1). α must be finite and ≥ 0, which keeps the sign of the output that of the input (the
// LeakyReLU backward pass reads it off the output) and −α the lower bound of ELU.
type Activation struct {
	Kind  ActivationKind
	Shift float64 // s, used by ShiftedTanh only
	Alpha float64 // α: LeakyReLU's negative slope, ELU's scale of e^x − 1; used by those two only
}

// ActivationNames lists the valid activation names, in a fixed order.
func ActivationNames() []string {
	out := make([]string, len(activationNames))
	for i, a := range activationNames {
		out[i] = a.name
	}
	return out
}

// ActivationUsage describes the accepted names for command-line help: the names and the parameters some take.
func ActivationUsage() string {
	return strings.Join(ActivationNames(), ", ") + fmt.Sprintf(" (shifted_tanh:<s>, leaky_relu:<α> and elu:<α> "+
		"set the parameter; the defaults are s = %g, α = %g and α = %g)", DefaultShift, DefaultLeakySlope, DefaultELUAlpha)
}

// ParseActivation parses an activation name such as "tanh", "shifted_tanh:0.5", "leaky_relu:0.2" or "elu". An
// unknown name is an error that lists the valid ones.
func ParseActivation(name string) (Activation, error) {
	base, param, hasParam := strings.Cut(strings.TrimSpace(strings.ToLower(name)), ":")
	for _, a := range activationNames {
		if a.name != base {
			continue
		}
		def, ok := defaultParam(a.kind)
		if !ok {
			if hasParam {
				return Activation{}, fmt.Errorf("activation %q takes no parameter", name)
			}
			return Activation{Kind: a.kind}, nil
		}
		v := def
		if hasParam {
			var err error
			v, err = strconv.ParseFloat(param, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return Activation{}, fmt.Errorf("activation %q: parameter %q is not a finite number", name, param)
			}
		}
		if a.kind == ShiftedTanh {
			return Activation{Kind: ShiftedTanh, Shift: v}, nil
		}
		if v < 0 {
			return Activation{}, fmt.Errorf("activation %q: α = %v must be ≥ 0", name, v)
		}
		return Activation{Kind: a.kind, Alpha: v}, nil
	}
	return Activation{}, fmt.Errorf("unknown activation %q (valid: %s; shifted_tanh takes :<shift>, leaky_relu "+
		"and elu take :<alpha>)", name, strings.Join(ActivationNames(), ", "))
}

// defaultParam returns the parameter a kind takes when its name has none, and whether it takes one.
func defaultParam(k ActivationKind) (float64, bool) {
	switch k {
	case ShiftedTanh:
		return DefaultShift, true
	case LeakyReLU:
		return DefaultLeakySlope, true
	case ELU:
		return DefaultELUAlpha, true
	}
	return 0, false
}

// validate reports an Activation that ParseActivation would not return: an unknown kind, a non-finite parameter, or
// a negative α (leaky ReLU's backward pass reads the sign of x off y, which α < 0 would flip).
func (a Activation) validate() error {
	if a.Kind < ReLU || a.Kind > GELU {
		return fmt.Errorf("unknown activation kind %d", int(a.Kind))
	}
	if math.IsNaN(a.Shift) || math.IsInf(a.Shift, 0) || math.IsNaN(a.Alpha) || math.IsInf(a.Alpha, 0) {
		return fmt.Errorf("activation %s: parameters must be finite", a)
	}
	if (a.Kind == LeakyReLU || a.Kind == ELU) && a.Alpha < 0 {
		return fmt.Errorf("activation %s: α = %v must be ≥ 0", a, a.Alpha)
	}
	return nil
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
			switch a.Kind {
			case ShiftedTanh:
				return n.name + ":" + strconv.FormatFloat(a.Shift, 'g', -1, 64)
			case LeakyReLU, ELU:
				return n.name + ":" + strconv.FormatFloat(a.Alpha, 'g', -1, 64)
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
	case LeakyReLU:
		if a.Alpha == 0 {
			return 0, math.Inf(1)
		}
		return math.Inf(-1), math.Inf(1)
	case ELU:
		return -a.Alpha, math.Inf(1)
	case SiLU:
		return siluMin, math.Inf(1)
	case GELU:
		return geluMin, math.Inf(1)
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
	case LeakyReLU:
		if x > 0 {
			return x
		}
		return a.Alpha * x
	case ELU:
		if x > 0 {
			return x
		}
		return a.Alpha * math.Expm1(x)
	case SiLU:
		return x * sigmoid(x)
	case GELU:
		return gelu(x)
	default:
		return x
	}
}

// gelu returns x·Φ(x), with Φ(x) = erfc(−x/√2)/2: the same as 0.5·x·(1 + erf(x/√2)) but without the cancellation
// of 1 + erf for negative x (at x = −10 that form gives 0 instead of −7.6e−23).
func gelu(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }

// geluGrad returns d/dx x·Φ(x) = Φ(x) + x·φ(x).
func geluGrad(x float64) float64 {
	return 0.5*math.Erfc(-x/math.Sqrt2) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
