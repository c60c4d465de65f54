package machine

import (
	"fmt"
	"sync"
	"unsafe"

	"gorgonia.org/tensor"
)

// Allocator hands out output tensors to ops that implement PooledOp.
type Allocator interface {
	// Tensor returns a float tensor of the given dtype and shape. With zeroed false its contents are whatever the
	// buffer's last user left: the op must write every element.
	Tensor(dt tensor.Dtype, zeroed bool, shape ...int) *tensor.Dense
}

// Pool keeps float32 and float64 buffers between uses, keyed by dtype and element count: a buffer freed by one node
// (after its last consumer ran) is handed to the next node of that size, in this run or the next. So a training
// step allocates nothing once the first step has run, touches memory that is already mapped, and needs only as
// much memory at once as the values alive at once, not one buffer per node.
//
// A Pool may be shared by machines that run one after another (a trainer's training and evaluation passes): every
// buffer is back in the pool when RunAll returns. Machines running at the same time need pools of their own (RunAll
// returns an error rather than share one).
type Pool struct {
	mu    sync.Mutex
	busy  bool // a machine is running on the pool
	free  map[poolKey][]*buffer
	held  int64 // bytes of every buffer the pool has made
	track *[]*buffer
}

type poolKey struct {
	dt   tensor.Dtype
	size int
}

// buffer is one pooled allocation and the number of pending reads of every value that lives in it.
type buffer struct {
	key     poolKey
	backing any // []float32 or []float64
	lo, hi  uintptr
	refs    int
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{free: map[poolKey][]*buffer{}} }

// Bytes reports how much memory the pool's buffers hold, in use or free.
func (p *Pool) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Tensor implements Allocator. Dtypes other than float32 and float64 are allocated outside the pool.
func (p *Pool) Tensor(dt tensor.Dtype, zeroed bool, shape ...int) *tensor.Dense {
	size := 1
	for _, d := range shape {
		size *= d
	}
	if (dt != tensor.Float32 && dt != tensor.Float64) || size == 0 {
		return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	key := poolKey{dt, size}
	p.mu.Lock()
	var b *buffer
	if list := p.free[key]; len(list) > 0 {
		b = list[len(list)-1]
		p.free[key] = list[:len(list)-1]
	}
	if b == nil {
		b = &buffer{key: key}
		switch dt {
		case tensor.Float32:
			s := make([]float32, size)
			b.backing, b.lo = s, uintptr(unsafe.Pointer(&s[0]))
			b.hi = b.lo + uintptr(4*size)
		default:
			s := make([]float64, size)
			b.backing, b.lo = s, uintptr(unsafe.Pointer(&s[0]))
			b.hi = b.lo + uintptr(8*size)
		}
		p.held += int64(b.hi - b.lo)
		zeroed = false // fresh memory is zero already
	}
	if p.track != nil {
		*p.track = append(*p.track, b)
	}
	p.mu.Unlock()
	if zeroed {
		switch s := b.backing.(type) {
		case []float32:
			clear(s)
		case []float64:
			clear(s)
		}
	}
	return tensor.New(tensor.WithBacking(b.backing), tensor.WithShape(shape...))
}

// put returns a buffer whose values are all dead.
func (p *Pool) put(b *buffer) {
	p.mu.Lock()
	p.free[b.key] = append(p.free[b.key], b)
	p.mu.Unlock()
}

// handedOut runs fn and returns the buffers Tensor gave out meanwhile.
func (p *Pool) handedOut(fn func()) []*buffer {
	var got []*buffer
	p.mu.Lock()
	p.track = &got
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.track = nil
		p.mu.Unlock()
	}()
	fn()
	return got
}

// String describes the pool for logs.
func (p *Pool) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.free {
		n += len(l)
	}
	return fmt.Sprintf("pool: %d free buffers, %.1f MB held", n, float64(p.held)/1e6)
}
