// Package pki is Strata's federation public-key infrastructure: a federation
// certificate authority, node certificates whose identity is a site id, PEM
// files on disk, certificate inspection, and the mutual-TLS configurations the
// QUIC transport uses.
//
// # Keys and certificates
//
// All keys are ECDSA P-256 (see [NewCA], [CA.Issue]): it is universally
// supported by TLS 1.3 stacks, by openssl, Wireshark and other inspection
// tools, and its signatures are cheap enough for per-connection handshakes.
// Loading also accepts Ed25519 and RSA keys in PKCS#8 form, so a CA created by
// another tool can be used.
//
// A federation has one CA. The CA certificate is self-signed, may sign only
// end-entity certificates (path length 0), and is the only trust root: the
// system roots are never consulted.
//
// A node certificate carries exactly one identity, its site id, in two places:
//
//   - the URI SAN strata://site/<site-id> (authoritative, see [SiteID]);
//   - the subject common name (must equal the URI SAN's site id when present).
//
// It also carries the loopback DNS name and IP addresses (localhost,
// 127.0.0.1, ::1) plus any extra names given in [NodeOptions], so generic TLS
// tools can connect to a local node. Strata itself never verifies host names:
// peers are verified against the federation CA and identified by site id.
// Node certificates are valid for both TLS server and client authentication.
//
// Site ids match ^[a-z0-9][a-z0-9-]{0,62}$ ([ValidateSiteID]): they are DNS
// labels, safe in file names, URIs and log lines.
//
// # Files
//
// Certificates are written as PEM "CERTIFICATE" blocks with mode 0644;
// private keys as PEM "PRIVATE KEY" (PKCS#8) blocks with mode 0600, written to
// a temporary file in the same directory and renamed into place, so a crash
// never leaves a partially written key. Existing files are not overwritten
// unless asked ([ErrExists]).
//
// # Mutual TLS
//
// [ServerTLSConfig], [ClientTLSConfig] and [MutualTLSConfig] build TLS 1.3-only
// configurations with ALPN [ALPN]. Both sides must present a certificate
// chaining to the federation CA; the chain is verified by Strata's own
// VerifyConnection callback against the CA pool (not by host name), and the
// peer must carry a valid site id. The caller then authorizes that site id
// (the transport asks the federation's membership). Session tickets are
// disabled (every connection is fully authenticated) and 0-RTT is never used.
//
// KeyLogWriter, when set, receives TLS secrets in the NSS key log
// (SSLKEYLOGFILE) format. It is for debugging only: anyone holding that file
// can decrypt the captured traffic.
package pki
