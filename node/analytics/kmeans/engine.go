package kmeans

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// chunkSize is the number of points per unit of parallel work. Chunk
// boundaries depend only on n, never on the number of workers, and partial
// results are combined in chunk order: that is what makes results identical
// for any number of workers.
const chunkSize = 4096

// minParallelPoints is the input size below which no goroutines are started.
const minParallelPoints = 4 * chunkSize

// engine holds the state and scratch space of one clustering run so that
// Lloyd iterations allocate nothing. It is not safe for concurrent use; its
// worker goroutines are started by newEngine and stopped by close.
type engine struct {
	x          []float64
	n, dim, k  int
	nchunks    int
	labels     []int     // n, or nil when labels are not kept (Accumulate)
	cent       []float64 // k*dim current centroids
	sums       []float64 // k*dim reduced sums
	counts     []int64   // k reduced counts
	psum       []float64 // nchunks*k*dim per-chunk sums
	pcnt       []int64   // nchunks*k per-chunk counts
	pinertia   []float64 // nchunks per-chunk inertia (or potential)
	pchanged   []int     // nchunks per-chunk number of changed labels
	closest    []float64 // n squared distance to nearest seed (k-means++), lazily allocated
	cand       []float64 // trials*dim candidate seeds
	ppot       []float64 // nchunks*trials per-chunk candidate potentials
	candidates []int     // trials candidate indices
	draws      []float64 // trials sorted random targets
	order      []int     // trials: draw order of the sorted targets
	chosen     int       // candidate used by closestChunk

	// Bounds (Fit and FitFrom only; see bounds.go).
	lower       []float64 // n lower bounds on the distance to the second-nearest centroid
	shift       []float64 // k distance each centroid moved in the last update
	half        []float64 // k half the distance from each centroid to its nearest other centroid
	drop        []float64 // k largest shift among the other centroids
	boundsReady bool      // lower holds valid bounds for the current centroids
	scale       float64   // largest |coordinate|, for the rounding margin
	boundedFn   func(int) // e.assignBoundedChunk

	// Parallel machinery. task is set before workers are signalled on start;
	// the channel operations order the accesses.
	workers  int
	task     func(chunk int)
	next     atomic.Int64
	start    chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	assignFn func(int) // e.assignChunk, bound once to avoid per-call allocation
}

func newEngine(points []float64, dim, k, workers int, keepLabels bool) *engine {
	n := len(points) / dim
	nchunks := (n + chunkSize - 1) / chunkSize
	e := &engine{
		x: points, n: n, dim: dim, k: k, nchunks: nchunks,
		cent:     make([]float64, k*dim),
		sums:     make([]float64, k*dim),
		counts:   make([]int64, k),
		psum:     make([]float64, nchunks*k*dim),
		pcnt:     make([]int64, nchunks*k),
		pinertia: make([]float64, nchunks),
		pchanged: make([]int, nchunks),
	}
	e.assignFn = e.assignChunk
	if keepLabels {
		e.labels = make([]int, n)
		e.initBounds()
	}
	if n < minParallelPoints || workers < 2 {
		workers = 1
	}
	e.workers = min(workers, nchunks)
	if e.workers > 1 {
		e.start = make(chan struct{})
		e.done = make(chan struct{})
		for range e.workers - 1 {
			e.wg.Add(1)
			go e.worker()
		}
	}
	return e
}

// close stops the worker goroutines and waits for them.
func (e *engine) close() {
	if e.start != nil {
		close(e.start)
		e.wg.Wait()
		e.start = nil
	}
}

func (e *engine) worker() {
	defer e.wg.Done()
	for range e.start {
		e.drain()
		e.done <- struct{}{}
	}
}

func (e *engine) drain() {
	for {
		c := int(e.next.Add(1)) - 1
		if c >= e.nchunks {
			return
		}
		e.task(c)
	}
}

// run calls task for every chunk, on the calling goroutine and the workers,
// and returns when all chunks are done.
func (e *engine) run(task func(int)) {
	e.task = task
	e.next.Store(0)
	for range e.workers - 1 {
		e.start <- struct{}{}
	}
	e.drain()
	for range e.workers - 1 {
		<-e.done
	}
	e.task = nil
}

func (e *engine) chunkRange(c int) (lo, hi int) {
	return c * chunkSize, min((c+1)*chunkSize, e.n)
}

// assignChunk assigns the chunk's points to their nearest centroid and
// records the chunk's per-cluster sums, counts, inertia and label changes.
func (e *engine) assignChunk(c int) {
	lo, hi := e.chunkRange(c)
	k, dim := e.k, e.dim
	sums := e.psum[c*k*dim : (c+1)*k*dim]
	cnt := e.pcnt[c*k : (c+1)*k]
	clear(sums)
	clear(cnt)
	inertia, changed := assignBrute(e.x[lo*dim:hi*dim], dim, e.cent, sums, cnt, e.labelsRange(lo, hi))
	e.pinertia[c] = inertia
	e.pchanged[c] = changed
}

func (e *engine) labelsRange(lo, hi int) []int {
	if e.labels == nil {
		return nil
	}
	return e.labels[lo:hi]
}

// assignBrute is the plain assignment kernel (no bounds). labels may be nil.
func assignBrute(x []float64, dim int, cent, sums []float64, cnt []int64, labels []int) (inertia float64, changed int) {
	k := len(cent) / dim
	n := len(x) / dim
	for i := range n {
		p := x[i*dim : (i+1)*dim]
		best, bd := 0, math.Inf(1)
		for j := range k {
			var d float64
			if dim == 3 {
				d = sqdist3((*[3]float64)(p), (*[3]float64)(cent[j*3:]))
			} else {
				d = sqdistN(p, cent[j*dim:(j+1)*dim])
			}
			if d < bd {
				best, bd = j, d
			}
		}
		if labels != nil && labels[i] != best {
			labels[i] = best
			changed++
		}
		inertia += bd
		s := sums[best*dim : (best+1)*dim]
		for t, v := range p {
			s[t] += v
		}
		cnt[best]++
	}
	return inertia, changed
}

// assign runs the assignment step over all chunks and reduces the partials
// into e.sums and e.counts in chunk order.
func (e *engine) assign() (inertia float64, changed int) {
	if e.lower != nil {
		e.run(e.boundedFn)
		e.boundsReady = true
	} else {
		e.run(e.assignFn)
	}
	clear(e.sums)
	clear(e.counts)
	kd := e.k * e.dim
	for c := range e.nchunks {
		ps := e.psum[c*kd : (c+1)*kd]
		for t, v := range ps {
			e.sums[t] += v
		}
		pc := e.pcnt[c*e.k : (c+1)*e.k]
		for j, v := range pc {
			e.counts[j] += v
		}
		inertia += e.pinertia[c]
		changed += e.pchanged[c]
	}
	return inertia, changed
}

// update moves e.cent to the means in e.sums/e.counts (empty clusters keep
// their centroid) and returns the total squared shift.
func (e *engine) update() float64 {
	dim := e.dim
	total := 0.0
	for j := range e.k {
		sj := 0.0
		if e.counts[j] != 0 {
			cnt := float64(e.counts[j])
			for t := range dim {
				v := e.sums[j*dim+t] / cnt
				d := v - e.cent[j*dim+t]
				sj += d * d
				e.cent[j*dim+t] = v
			}
		}
		total += sj
		if e.shift != nil {
			e.shift[j] = math.Sqrt(sj)
		}
	}
	if e.lower != nil {
		e.updateBounds()
	}
	return total
}

// lloyd runs Lloyd iterations from e.cent (see the package doc for the
// stopping rule), then a final assignment. trace, if not nil, is called with
// each iteration's inertia (before its update).
func (e *engine) lloyd(ctx context.Context, maxIter int, tolAbs float64, trace func(iter int, inertia float64)) (result, error) {
	for i := range e.labels {
		e.labels[i] = -1
	}
	e.boundsReady = false
	var res result
	for it := range maxIter {
		if err := ctx.Err(); err != nil {
			return result{}, err
		}
		inertia, changed := e.assign()
		if trace != nil {
			trace(it, inertia)
		}
		shift := e.update()
		res.iterations = it + 1
		if changed == 0 || shift <= tolAbs {
			res.converged = true
			break
		}
	}
	res.inertia, _ = e.assign()
	res.centroids = append([]float64(nil), e.cent...)
	res.sizes = append([]int64(nil), e.counts...)
	return res, nil
}
