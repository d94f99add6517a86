package cli

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/protocol/pki"
)

// Certificate file names inside a certs directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

func nodeCertFiles(dir, site string) (cert, key string) {
	return filepath.Join(dir, site+".pem"), filepath.Join(dir, site+"-key.pem")
}

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Create and inspect the federation CA and node certificates",
		Long: `Manage the certificates of a federation's mutual TLS.

A federation has one CA. Each node gets a certificate whose identity is its
site id; peers accept a connection only from certificates signed by the CA
whose site is a member. Private keys are written with mode 0600.

  strata certs init-ca --dir certs              # certs/ca.pem, certs/ca-key.pem
  strata certs issue site-a --dir certs         # certs/site-a.pem, certs/site-a-key.pem
  strata certs list --dir certs
  strata certs inspect certs/site-a.pem`,
	}
	cmd.AddCommand(newCertsInitCACmd(), newCertsIssueCmd(), newCertsListCmd(), newCertsInspectCmd())
	return cmd
}

func newCertsInitCACmd() *cobra.Command {
	var dir, name string
	var validity time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "init-ca",
		Short: "Create a federation CA (ca.pem, ca-key.pem)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create %s: %w", dir, err)
			}
			ca, err := pki.NewCA(pki.CAOptions{Name: name, Validity: validity})
			if err != nil {
				return err
			}
			certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
			if err := ca.Save(certPath, keyPath, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created CA %q\n  certificate %s\n  private key %s (0600: keep it offline)\n",
				ca.Cert.Subject.CommonName, certPath, keyPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "certs", "directory for the CA files")
	cmd.Flags().StringVar(&name, "name", "strata", "federation name in the CA's subject")
	cmd.Flags().DurationVar(&validity, "validity", pki.DefaultCAValidity, "how long the CA is valid")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

func newCertsIssueCmd() *cobra.Command {
	var dir string
	var dnsNames []string
	var ips []net.IP
	var validity time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "issue SITE",
		Short: "Issue a node certificate for a site, signed by the CA in --dir",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			site := args[0]
			ca, err := pki.LoadCA(filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile))
			if err != nil {
				return err
			}
			nc, err := ca.Issue(site, pki.NodeOptions{Validity: validity, DNSNames: dnsNames, IPAddresses: ips})
			if err != nil {
				return err
			}
			certPath, keyPath := nodeCertFiles(dir, site)
			if err := nc.Save(certPath, keyPath, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issued certificate for site %q\n  certificate %s\n  private key %s (0600)\n",
				site, certPath, keyPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "certs", "directory holding the CA; the node files are written there too")
	cmd.Flags().StringSliceVar(&dnsNames, "dns", nil, "extra DNS names for the certificate")
	cmd.Flags().IPSliceVar(&ips, "ip", nil, "extra IP addresses for the certificate")
	cmd.Flags().DurationVar(&validity, "validity", pki.DefaultNodeValidity, "how long the certificate is valid")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

func newCertsListCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificates in a directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
			if err != nil {
				return err
			}
			sort.Strings(files)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tKIND\tSITE\tEXPIRES\tSHA256")
			n := 0
			for _, f := range files {
				if strings.HasSuffix(f, "-key.pem") {
					continue
				}
				certs, err := pki.ReadCertFile(f)
				if err != nil {
					return err
				}
				for _, c := range certs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", filepath.Base(f), certKind(c), siteOrDash(c),
						c.NotAfter.UTC().Format(time.DateOnly), fingerprint(c)[:16])
					n++
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no certificates in %s", dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "certs", "directory to list")
	return cmd
}

func newCertsInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a certificate's subject, site id, validity and fingerprint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			certs, err := pki.ReadCertFile(args[0])
			if err != nil {
				return err
			}
			for _, c := range certs {
				printCert(cmd.OutOrStdout(), c)
			}
			return nil
		},
	}
}

func printCert(w io.Writer, c *x509.Certificate) {
	fmt.Fprintf(w, "kind:        %s\n", certKind(c))
	fmt.Fprintf(w, "subject:     %s\n", c.Subject)
	fmt.Fprintf(w, "issuer:      %s\n", c.Issuer)
	fmt.Fprintf(w, "site:        %s\n", siteOrDash(c))
	fmt.Fprintf(w, "serial:      %s\n", c.SerialNumber.Text(16))
	fmt.Fprintf(w, "not before:  %s\n", c.NotBefore.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "not after:   %s\n", c.NotAfter.UTC().Format(time.RFC3339))
	if len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs) > 0 {
		var sans []string
		for _, u := range c.URIs {
			sans = append(sans, u.String())
		}
		sans = append(sans, c.DNSNames...)
		for _, ip := range c.IPAddresses {
			sans = append(sans, ip.String())
		}
		fmt.Fprintf(w, "names:       %s\n", strings.Join(sans, ", "))
	}
	fmt.Fprintf(w, "sha256:      %s\n", fingerprint(c))
}

func certKind(c *x509.Certificate) string {
	if c.IsCA {
		return "ca"
	}
	return "node"
}

func siteOrDash(c *x509.Certificate) string {
	if c.IsCA {
		return "-"
	}
	id, err := pki.SiteID(c)
	if err != nil {
		if errors.Is(err, pki.ErrNoSiteID) {
			return "(none)"
		}
		return "(invalid)"
	}
	return id
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
