package fsm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/federated/fsm"
)

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Example drives one aggregation round through Apply, as raft would on every
// node, and shows the checks a node makes before producing its decryption share.
func Example() {
	f := fsm.New()
	index := uint64(0)
	apply := func(c fsm.Command) error {
		b, err := fsm.Encode(c)
		if err != nil {
			return err
		}
		index++
		return fsm.ResponseError(f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}))
	}
	sites := []string{"brand", "market", "mini"}
	for _, s := range sites {
		_ = apply(&fsm.AddSite{Site: s, Address: s + ":7000", Role: fsm.RoleVoter})
		_ = apply(&fsm.SiteJoined{Site: s})
	}
	_ = apply(&fsm.BeginKeySetup{Epoch: 1, Participants: sites, Threshold: 2, HEParams: "PN13QP120", Seed: digest("seed")})
	_ = apply(&fsm.CompleteKeySetup{Epoch: 1, PublicKeyHash: digest("collective public key")})
	_ = apply(&fsm.SetBudget{Federation: "demo", Dataset: "orders", Total: fsm.Cost{Epsilon: 1}})

	start := func(id string) error {
		return apply(&fsm.StartRound{ID: id, Kind: "sum:revenue", Federation: "demo", Dataset: "orders",
			KeyEpoch: 1, Participants: sites, Cost: fsm.Cost{Epsilon: 0.6}})
	}
	fmt.Println("start r1:", start("r1"))
	fmt.Println("start r2:", fsm.Code(start("r2")))

	for _, s := range sites {
		_ = apply(&fsm.Contribute{Round: "r1", Site: s, Hash: digest("ciphertext of " + s), Size: 262144})
	}
	fmt.Println("again:", fsm.Code(apply(&fsm.Contribute{Round: "r1", Site: "mini", Hash: digest("x"), Size: 1})))

	decryptors, _ := f.SuggestDecryptors("r1")
	_ = apply(&fsm.CloseRound{Round: "r1", Decryptors: decryptors, AggregateHash: digest("aggregate")})
	fmt.Println("decryptors:", decryptors)
	fmt.Println("share by brand:", f.ShareAllowed("r1", "brand"))
	fmt.Println("share by mini:", fsm.Code(f.ShareAllowed("r1", "mini")))

	_ = apply(&fsm.FinishRound{Round: "r1", ResultHash: digest("result"),
		Noise: fsm.NoiseParams{Mechanism: "discrete_gaussian", Sigma: 5.5, Sensitivity: 1}})
	r, _ := f.Round("r1")
	b, _ := f.Budget("demo", "orders")
	fmt.Printf("r1 %s, spent ε=%g of %g\n", r.State, b.Spent.Epsilon, b.Total.Epsilon)
	// Output:
	// start r1: <nil>
	// start r2: budget_exhausted
	// again: duplicate_contribution
	// decryptors: [brand market]
	// share by brand: <nil>
	// share by mini: not_participant
	// r1 done, spent ε=0.6 of 1
}
