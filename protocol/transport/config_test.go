package transport

import (
	"reflect"
	"testing"

	"github.com/strata-fed/strata/protocol/pki"
)

// TestConfigFieldsHandled fails when a Config field is added without
// deciding its default: every field must be listed here.
func TestConfigFieldsHandled(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := ca.Issue("a", pki.NodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := n.TLSCertificate()
	tc, err := pki.MutualTLSConfig(pki.TLSOptions{Roots: ca.Pool(), Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Config{SiteID: "a", TLS: tc, ListenAddr: "127.0.0.1:0"}.populate()
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]bool{"SiteID": true, "TLS": true, "ListenAddr": true}
	optional := map[string]bool{"AdvertiseAddr": true, "Authorize": true, "KeyLogWriter": true, "SendTap": true}
	defaulted := map[string]any{
		"Logger":             nil, // any non-nil logger
		"MaxIdleTimeout":     DefaultMaxIdleTimeout,
		"KeepAlivePeriod":    DefaultMaxIdleTimeout / 3,
		"HandshakeTimeout":   DefaultHandshakeTimeout,
		"HelloTimeout":       DefaultHelloTimeout,
		"AcceptTimeout":      DefaultAcceptTimeout,
		"QueueLen":           DefaultQueueLen,
		"MaxIncomingStreams": int64(DefaultMaxIncomingStreams),
	}
	v := reflect.ValueOf(got)
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		f := v.Field(i)
		switch want, ok := defaulted[name]; {
		case required[name], optional[name]:
		case !ok:
			t.Errorf("Config.%s: not handled by this test; decide its default", name)
		case want == nil:
			if f.IsNil() {
				t.Errorf("Config.%s not defaulted", name)
			}
		default:
			if !reflect.DeepEqual(f.Interface(), want) {
				t.Errorf("Config.%s = %v, want default %v", name, f.Interface(), want)
			}
		}
	}
	if got.KeepAlivePeriod >= got.MaxIdleTimeout/2 {
		t.Errorf("default keep-alive %v not below half the idle timeout %v", got.KeepAlivePeriod, got.MaxIdleTimeout)
	}
}
