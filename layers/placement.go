package layers

import (
	"fmt"
	"strings"
)

// Placement says where a unit's BatchNorm sits relative to its activation.
type Placement int

const (
	// Conventional is weight → BN → activation (Ioffe & Szegedy 2015; torchvision's order).
	Conventional Placement = iota
	// Swapped is weight → activation → BN: the BN normalises the activation's output.
	Swapped
	// NoBN is weight (with bias) → activation, without batch normalisation.
	NoBN
)

var placementNames = [...]string{Conventional: "conventional", Swapped: "swapped", NoBN: "none"}

// PlacementNames lists the valid placement names.
func PlacementNames() []string { return append([]string(nil), placementNames[:]...) }

// ParsePlacement parses "conventional", "swapped" or "none"; anything else is an error listing those.
func ParsePlacement(name string) (Placement, error) {
	n := strings.TrimSpace(strings.ToLower(name))
	for i, p := range placementNames {
		if p == n {
			return Placement(i), nil
		}
	}
	return 0, fmt.Errorf("unknown placement %q (valid: %s)", name, strings.Join(placementNames[:], ", "))
}

// String returns the name ParsePlacement accepts.
func (p Placement) String() string {
	if p >= 0 && int(p) < len(placementNames) {
		return placementNames[p]
	}
	return fmt.Sprintf("placement(%d)", int(p))
}

// HasBN reports whether units in this placement carry a BatchNorm (and hence no conv bias).
func (p Placement) HasBN() bool { return p != NoBN }

// MarshalText implements encoding.TextMarshaler.
func (p Placement) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Placement) UnmarshalText(b []byte) error {
	v, err := ParsePlacement(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
