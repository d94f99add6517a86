package he

import (
	"errors"
	"math/big"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

func TestPlaintextModulus(t *testing.T) {
	g := ring.NewNTTFriendlyPrimesGenerator(59, 1<<14)
	p, err := g.NextDownstreamPrime()
	if err != nil {
		t.Fatal(err)
	}
	if p != PlaintextModulus59 {
		t.Fatalf("NextDownstreamPrime() = %#x, want PlaintextModulus59 = %#x", p, PlaintextModulus59)
	}
	if !new(big.Int).SetUint64(p).ProbablyPrime(64) {
		t.Errorf("%d is not prime", p)
	}
	if p%(1<<14) != 1 {
		t.Errorf("%d mod 2^14 = %d, want 1", p, p%(1<<14))
	}
	if p>>58 != 1 {
		t.Errorf("%d has %d bits, want 59", p, new(big.Int).SetUint64(p).BitLen())
	}
}

func TestProductionParameters(t *testing.T) {
	p, err := NewParameters(PN13QP120)
	if err != nil {
		t.Fatal(err)
	}
	b := p.BGV()
	if b.LogN() != 13 || len(b.Q()) != 2 || len(b.P()) != 0 || b.PlaintextModulus() != PlaintextModulus59 {
		t.Errorf("PN13QP120 = LogN %d, Q %v, P %v, T %d", b.LogN(), b.Q(), b.P(), b.PlaintextModulus())
	}
	if p.LogQP() > 218 || p.LogQP() < 119 {
		t.Errorf("LogQP() = %.2f, want ≈ 120 and ≤ 218", p.LogQP())
	}
	if p.Slots() != 8191 {
		t.Errorf("Slots() = %d, want 8191", p.Slots())
	}
	if want := int64((PlaintextModulus59 - 3) / 2); p.MaxAbsSum() != want {
		t.Errorf("MaxAbsSum() = %d, want %d", p.MaxAbsSum(), want)
	}
	if p.SmudgingSigma() != 1<<50 {
		t.Errorf("SmudgingSigma() = %v", p.SmudgingSigma())
	}
	test := MustParameters(TestPN11QP120)
	if test.ID() == p.ID() {
		t.Error("test and production parameters share an ID")
	}
}

func TestParameterChecks(t *testing.T) {
	bigQ := PN13QP120
	bigQ.Name = "too-big"
	bigQ.Literal = bgv.ParametersLiteral{LogN: 13, LogQ: []int{60, 60, 60, 60}, PlaintextModulus: PlaintextModulus59}
	noBudget := PN13QP120
	noBudget.Name = "no-budget"
	noBudget.SmudgingSigma = 1 << 58
	badT := PN13QP120
	badT.Name = "bad-t"
	badT.Literal.PlaintextModulus = 12289 // prime, ≡ 1 mod 2^12 only: 2,048 slots
	noSigma := PN13QP120
	noSigma.SmudgingSigma = 0
	noName := PN13QP120
	noName.Name = ""
	for _, set := range []ParamSet{bigQ, noBudget, badT, noSigma, noName} {
		if _, err := NewParameters(set); !errors.Is(err, ErrParams) {
			t.Errorf("NewParameters(%q) err = %v, want ErrParams", set.Name, err)
		}
	}
	insecure := bigQ
	insecure.Insecure = true
	if _, err := NewParameters(insecure); err != nil {
		t.Errorf("NewParameters(insecure big Q) = %v", err)
	}
	if _, err := LookupParamSet("nope"); !errors.Is(err, ErrParams) {
		t.Errorf("LookupParamSet(nope) err = %v", err)
	}
}
