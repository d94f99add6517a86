package raftquic_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/protocol/internal/testfed"
	"github.com/strata-fed/strata/protocol/raftquic"
	"github.com/strata-fed/strata/protocol/transport"
)

// TestSendTapSeesRaftRPCs: raft's own RPCs (an AppendEntries request and
// its response, written by raft's NetworkTransport through the stream
// layer) pass through the transport's SendTap on both nodes, as raft
// streams.
func TestSendTapSeesRaftRPCs(t *testing.T) {
	type key struct {
		peer string
		kind transport.StreamKind
	}
	var mu sync.Mutex
	sent := map[string]map[key][]byte{"a": {}, "b": {}}
	tapFor := func(site string) func(string, transport.StreamKind, []byte) {
		return func(peer string, kind transport.StreamKind, p []byte) {
			mu.Lock()
			defer mu.Unlock()
			sent[site][key{peer, kind}] = append(sent[site][key{peer, kind}], p...)
		}
	}
	fed := testfed.New(t)
	var nts []*raft.NetworkTransport
	var trs []*transport.Transport
	for _, site := range []string{"a", "b"} {
		cfg := fed.Config(t, site, nil, testfed.NewLog(t))
		cfg.Authorize = testfed.Allow("a", "b")
		cfg.SendTap = tapFor(site)
		tr := testfed.Listen(t, cfg)
		nt := raftquic.NewNetworkTransport(tr, raftquic.Options{Timeout: 5 * time.Second})
		t.Cleanup(func() { nt.Close() })
		trs, nts = append(trs, tr), append(nts, nt)
	}
	request := []byte("raft-entry-canary-7f3e9a1c")
	leader := []byte("leader-canary-0b8d2e64")
	go func() {
		select {
		case rpc := <-nts[1].Consumer():
			rpc.Respond(&raft.AppendEntriesResponse{Term: 424242, Success: true}, nil)
		case <-time.After(10 * time.Second):
			t.Error("b received no RPC")
		}
	}()
	var resp raft.AppendEntriesResponse
	err := nts[0].AppendEntries("b", raft.ServerAddress(trs[1].AdvertiseAddr()), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{Addr: leader},
		Term:      7,
		Entries:   []*raft.Log{{Index: 1, Term: 7, Type: raft.LogCommand, Data: request}},
	}, &resp)
	if err != nil || !resp.Success || resp.Term != 424242 {
		t.Fatalf("AppendEntries = %+v, %v", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	toB := sent["a"][key{"b", transport.KindRaft}]
	if !bytes.Contains(toB, request) || !bytes.Contains(toB, leader) {
		t.Errorf("a's tap (%d raft bytes to b) lacks the AppendEntries entry or header", len(toB))
	}
	// b's response: msgpack of the response struct, term 424242 as a uint32.
	toA := sent["b"][key{"a", transport.KindRaft}]
	if !bytes.Contains(toA, []byte{0xce, 0x00, 0x06, 0x79, 0x32}) || !bytes.Contains(toA, []byte("Success")) {
		t.Errorf("b's tap (%d raft bytes to a: %q) lacks the AppendEntries response", len(toA), toA)
	}
	for k := range sent["a"] {
		if k.kind != transport.KindRaft {
			t.Errorf("a tapped %d bytes of kind %s", len(sent["a"][k]), k.kind)
		}
	}
}
