package securesum

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
)

// Step is one timed step of a round at one site (Node.Timeline). A round's
// steps across its sites show where its time goes, and which of it lies on
// the critical path when every site runs on its own machine.
type Step struct {
	// Site is the site that ran the step.
	Site string `json:"site"`
	// Name is one of the Step* constants.
	Name string `json:"name"`
	// Detail qualifies the step: the blob kind of a send or receive, the
	// command type of a commit.
	Detail string `json:"detail,omitempty"`
	// Peer is the other site of a send or receive.
	Peer string `json:"peer,omitempty"`
	// Start is when the step began (this node's clock); Wall is how long
	// it took.
	Start time.Time     `json:"start"`
	Wall  time.Duration `json:"wall"`
	// CPU is the step's own CPU time, measured on the OS thread it ran on
	// (the step's goroutine is locked to its thread meanwhile). It is zero
	// for steps that wait on others (StepSend, StepCommit), and equals Wall
	// on platforms without a per-thread CPU clock. For StepReceive it is the
	// reading goroutine's share only (copy and SHA-256), not QUIC's packet
	// processing, which runs on the connection's own goroutines.
	CPU time.Duration `json:"cpu"`
	// Bytes is the size of what the step sent or received.
	Bytes int64 `json:"bytes,omitempty"`
}

// Step names.
const (
	// StepEncrypt (contributor): compute, clamp and noise the statistic,
	// encrypt, encode and hash it.
	StepEncrypt = "encrypt"
	// StepSend (any): one blob sent to a peer, until acknowledged.
	StepSend = "send"
	// StepReceive (any): one blob read from a peer and its SHA-256 checked.
	StepReceive = "receive"
	// StepAdd (leader): one contribution validated and added to the
	// aggregate.
	StepAdd = "add"
	// StepAggregate (leader): the aggregate taken, its mask encoded and
	// hashed.
	StepAggregate = "aggregate"
	// StepShare (decryptor): the mask decoded, the decryption share made,
	// encoded and hashed.
	StepShare = "share"
	// StepCombine (leader): a decryption share decoded (Detail "decode"),
	// or the shares combined and the result encoded.
	StepCombine = "combine"
	// StepCommit (leader): a round command proposed and committed through
	// the log (Detail: its type).
	StepCommit = "commit"
)

// keepTimelines bounds how many rounds' timelines a node keeps.
const keepTimelines = 16

// Timeline returns this node's steps of a round (of one of the last
// keepTimelines rounds it took part in), in the order they ended.
func (n *Node) Timeline(roundID string) []Step {
	n.tlMu.Lock()
	defer n.tlMu.Unlock()
	return slices.Clone(n.timelines[roundID])
}

// record adds a step to a round's timeline, dropping the oldest rounds'
// beyond keepTimelines.
func (n *Node) record(roundID string, s Step) {
	s.Site = n.self
	n.tlMu.Lock()
	defer n.tlMu.Unlock()
	if n.timelines == nil {
		n.timelines = map[string][]Step{}
	}
	if _, ok := n.timelines[roundID]; !ok && len(n.timelines) >= keepTimelines {
		var ids []uint64
		for id := range n.timelines {
			if v, ok := roundNum(id); ok {
				ids = append(ids, v)
			}
		}
		slices.Sort(ids)
		for _, v := range ids[:len(ids)-keepTimelines+1] {
			delete(n.timelines, strconv.FormatUint(v, 10))
		}
	}
	n.timelines[roundID] = append(n.timelines[roundID], s)
}

// timed runs f as step s of the round (s names it) and records it.
func (n *Node) timed(roundID string, s Step, f func() error) error {
	s, err := measure(s, f)
	n.record(roundID, s)
	return err
}

// measure runs f on this goroutine, locked to its OS thread, and returns s
// with f's start, wall and thread CPU times.
func measure(s Step, f func() error) (Step, error) {
	runtime.LockOSThread()
	start, c0 := time.Now(), threadCPU()
	err := f()
	cpu := threadCPU() - c0
	runtime.UnlockOSThread()
	s.Start, s.Wall, s.CPU = start, time.Since(start), cpu
	if !threadCPUOK {
		s.CPU = s.Wall
	}
	return s, err
}

// committed proposes cmd and records the commit's wall time as a step of
// the round.
func (n *Node) committed(ctx context.Context, roundID string, cmd fsm.Command) error {
	start := time.Now()
	err := n.propose(ctx, cmd)
	n.record(roundID, Step{Name: StepCommit, Detail: string(cmd.CommandType()), Start: start, Wall: time.Since(start)})
	return err
}
