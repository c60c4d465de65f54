package machine

import (
	"fmt"
	"sync"

	"gorgonia.org/tensor"
)

// Allocator hands out output tensors to ops that implement PooledOp.
type Allocator interface {
	// Tensor returns a float tensor of the given dtype and shape. With zeroed false its contents are whatever the
	// memory's last user left: the op must write every element.
	Tensor(dt tensor.Dtype, zeroed bool, shape ...int) *tensor.Dense
}

// Pool holds the arenas machines place their planned outputs in: one float32 and one float64 slice, grown to the
// largest plan of the machines that use it. So a training step allocates nothing once its arena exists, touches
// memory that is already mapped, and needs only as much as its plan (see plan.go).
//
// A Pool may be shared by machines that run one after another (a trainer's training and evaluation passes): their
// plans all start at offset 0, and the arena is as large as the largest. Machines running at the same time need
// pools of their own (RunAll returns an error rather than share one).
type Pool struct {
	mu   sync.Mutex
	busy bool // a machine is running on the pool
	f32  []float32
	f64  []float64
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{} }

// Bytes reports how much memory the pool's arenas hold.
func (p *Pool) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(4*len(p.f32) + 8*len(p.f64))
}

// acquire marks the pool busy and grows its arenas to sizes (elements per dtype).
func (p *Pool) acquire(sizes map[tensor.Dtype]int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy {
		return fmt.Errorf("machine: the pool is in use by another running machine")
	}
	p.busy = true
	if n := sizes[tensor.Float32]; n > len(p.f32) {
		p.f32 = make([]float32, n)
	}
	if n := sizes[tensor.Float64]; n > len(p.f64) {
		p.f64 = make([]float64, n)
	}
	return nil
}

func (p *Pool) release() {
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
}

// tensor returns the planned slot s as a tensor of the given shape (its element count is s.size).
func (p *Pool) tensor(s slot, zeroed bool, shape ...int) *tensor.Dense {
	var backing any
	switch s.dt {
	case tensor.Float32:
		b := p.f32[s.off : s.off+s.size : s.off+s.size]
		if zeroed {
			clear(b)
		}
		backing = b
	default:
		b := p.f64[s.off : s.off+s.size : s.off+s.size]
		if zeroed {
			clear(b)
		}
		backing = b
	}
	return tensor.New(tensor.WithBacking(backing), tensor.WithShape(shape...))
}

// String describes the pool for logs.
func (p *Pool) String() string {
	return fmt.Sprintf("pool: %.1f MB of arenas", float64(p.Bytes())/1e6)
}

// stepAllocator is the Allocator one op gets: it hands out that op's planned slot, once.
type stepAllocator struct {
	pool *Pool
	slot slot
	name string
	out  *tensor.Dense // what Tensor handed out
	err  error
}

func (a *stepAllocator) Tensor(dt tensor.Dtype, zeroed bool, shape ...int) *tensor.Dense {
	size := 1
	for _, d := range shape {
		size *= d
	}
	switch {
	case a.out != nil:
		a.err = fmt.Errorf("machine: %q asked for a second output tensor", a.name)
	case dt != a.slot.dt || size != a.slot.size:
		a.err = fmt.Errorf("machine: %q asked for %d %v elements, its node has %d %v", a.name, size, dt, a.slot.size, a.slot.dt)
	default:
		a.out = a.pool.tensor(a.slot, zeroed, shape...)
		return a.out
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...)) // not used: the error stops the run
}
