package fsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleCommands has one valid command of every type.
func sampleCommands() []Command {
	return []Command{
		&AddSite{Site: "site-a", Address: "127.0.0.1:7001", Role: RoleVoter},
		&SiteJoined{Site: "site-a", Address: "127.0.0.1:7101"},
		&RemoveSite{Site: "site-a", Reason: "left"},
		&SetRole{Site: "site-a", Role: RoleNonvoter},
		&SiteLiveness{Site: "site-a", Live: true},
		&SetSettings{Settings: Settings{DPDisabled: true, HEParams: "bgv-logn13", Threshold: 2, MinCellCount: 10}},
		&BeginKeySetup{Epoch: 1, Participants: []string{"site-b", "site-a"}, Threshold: 2, HEParams: "bgv-logn13", Seed: hashOf("seed")},
		&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("cpk")},
		&FailKeySetup{Epoch: 1, Reason: "timeout"},
		&SetBudget{Federation: "fed", Dataset: "orders", Total: Cost{Epsilon: 1, Delta: 1e-6}},
		&ChargeBudget{ID: "q1", Federation: "fed", Dataset: "orders", Site: "site-a", Purpose: "dp count", Cost: Cost{Epsilon: 0.1}},
		&StartRound{ID: "r1", Kind: "sum:revenue", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
			Participants: []string{"site-a", "site-b"}, MinContributors: 2, Deadline: 1700000000000, Cost: Cost{Epsilon: 0.5, Delta: 1e-9}},
		&Contribute{Round: "r1", Site: "site-a", Hash: hashOf("ct"), Size: 262144},
		&CloseRound{Round: "r1", Decryptors: []string{"site-b", "site-a"}, AggregateHash: hashOf("agg")},
		&FinishRound{Round: "r1", ResultHash: hashOf("res"), Released: []byte(`[1,2,3]`), ReleasedHash: hashOf("[1,2,3]"),
			Noise: NoiseParams{Mechanism: "discrete_gaussian", Sigma: 5.5, Sensitivity: 1, Scale: 100}},
		&FailRound{Round: "r1", Reason: "too few live sites"},
		&AbortRound{Round: "r1", Reason: "operator"},
		&Tick{Now: 1700000000000},
		&CommitModel{Version: 1, ContentHash: hashOf("{}"), Model: []byte("{}"), Rounds: []string{"r1"}},
	}
}

func TestSamplesCoverEveryType(t *testing.T) {
	seen := map[CommandType]bool{}
	for _, c := range sampleCommands() {
		seen[c.CommandType()] = true
	}
	for typ, mk := range commandFactories {
		if !seen[typ] {
			t.Errorf("no sample command of type %s", typ)
		}
		if got := mk().CommandType(); got != typ {
			t.Errorf("factory for %s makes %s", typ, got)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, c := range sampleCommands() {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode(%s) = %v", c.CommandType(), err)
		}
		if !strings.HasPrefix(string(b), `{"type":"`+string(c.CommandType())+`","v":1,"body":{`) {
			t.Errorf("Encode(%s) = %s, want the type/v/body envelope", c.CommandType(), b)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", b, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Decode(Encode(%#v)) = %#v", c, got)
		}
		again, err := Encode(got)
		if err != nil || string(again) != string(b) {
			t.Errorf("re-encoding %s = %s, %v; want identical bytes", b, again, err)
		}
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	for _, c := range []Command{
		nil,
		&AddSite{Site: "", Address: "x", Role: RoleVoter},
		&Contribute{Round: "r1", Site: "a", Hash: "nothex", Size: 1},
		&StartRound{ID: "r1", Kind: "k", Federation: "f", Dataset: "d", KeyEpoch: 1, Participants: []string{"a"}, MinContributors: 2},
		&CommitModel{Version: 1, ContentHash: hashOf("m"), Model: make([]byte, MaxModelSize+1)},
		&FinishRound{Round: "r1", ResultHash: hashOf("r"), Noise: NoiseParams{Mechanism: "x\n"}},
		&SetRole{Site: "a", Role: "boss"},
		&AddSite{Site: strings.Repeat("a", MaxIDLen+1), Address: "x", Role: RoleVoter},
	} {
		if _, err := Encode(c); !errors.Is(err, ErrBadCommand) {
			t.Errorf("Encode(%#v) = %v, want ErrBadCommand", c, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{``, ErrBadCommand},
		{`{}`, ErrUnknownCommand},
		{`{"type":"tick","v":0,"body":{"now":1}}`, ErrUnsupportedVersion},
		{`{"type":"tick","v":1,"body":{"now":1}}{}`, ErrBadCommand},
		{`{"type":"tick","v":1,"body":{"now":1.5}}`, ErrBadCommand},
		{`{"type":"tick","v":1,"body":{"now":1,"later":2}}`, ErrBadCommand},
		{`{"type":"tick","v":1,"body":[]}`, ErrBadCommand},
		{`{"type":"commit_model","v":1,"body":{"version":1,"content_hash":"` + hashOf("m") + `","model":"!!notbase64","rounds":[]}}`, ErrBadCommand},
		{strings.Repeat("[", MaxCommandSize+1), ErrBadCommand},
	} {
		if _, err := Decode([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("Decode(%.60q) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes to a canonical form that survives another round trip unchanged.
func FuzzDecode(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(mustEncode(c))
	}
	f.Add([]byte(`{"type":"tick","v":2,"body":{"now":1}}`))
	f.Add([]byte(`{"type":"contribute","v":1,"body":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if c != nil {
				t.Fatalf("Decode returned a command with error %v", err)
			}
			return
		}
		enc, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v", b, err)
		}
		c2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v", b, err)
		}
		enc2, err := Encode(c2)
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("encoding is not canonical: %s then %s (%v)", enc, enc2, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := mustEncode(&Contribute{Round: "r1", Site: "site-a", Hash: hashOf("ct"), Size: 262144})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
