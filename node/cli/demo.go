package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/node/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		o           demo.Options
		centralized bool
	)
	cmd := &cobra.Command{
		Use:   "demo [--users N | --data F1,F2,F3] [--dir DIR]",
		Short: "Run the main job end to end on a three-site demo federation on loopback",
		Long: `Demo runs the federated cross-channel segmentation end to end in one process:

  1. generates synthetic social-commerce data for three channels (a brand's
     own store, a marketplace flagship, a social-commerce mini-program) with
     overlapping users — or takes one standard-schema file per site (--data);
  2. creates a federation CA, three node certificates and three node configs
     (each with its site's data: section) under --dir;
  3. starts three real nodes on loopback: QUIC with mutual TLS, raft with a
     persistent log; each node reads and analyses its own file;
  4. runs a dealerless 2-of-3 threshold key set-up and sets the privacy
     budget of the dataset "segmentation";
  5. runs the segmentation (R/F/M thresholds, means, k-means, segment ×
     channel) over threshold-encrypted, differentially private secure sums
     and commits the model to the log;
  6. waits until every site has labelled its own users and written its
     audiences (one CSV of its own user ids per segment);
  7. prints the report, the HTML report's path, the audience directories and
     a per-phase timing table, and stops the nodes.

Everything stays in --dir (default: a new temporary directory): the data,
the certificates and configs (usable with 'strata serve --config'), the raft
logs, every site's outputs and node log. If SSLKEYLOGFILE is set, every node
appends its TLS secrets to it so the QUIC traffic can be decrypted (tshark
-o tls.keylog_file:FILE; set QUIC_GO_DISABLE_GSO=true while capturing on
loopback).

--centralized runs the same pipeline as the baseline: the three files pooled
in this process, analysed once, the same jobs in plaintext (DP off), every
site's users labelled and exported — no node, no encryption.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("users") && len(o.Data) > 0 {
				return usagef("demo: --users and --data exclude each other")
			}
			if centralized && cmd.Flags().Changed("dp-off") {
				return usagef("demo: --centralized is always plaintext; --dp-off does not apply")
			}
			o.Out, o.Progress = cmd.OutOrStdout(), cmd.ErrOrStderr()
			run := demo.Run
			if centralized {
				run = demo.RunCentralized
			}
			_, err := run(cmd.Context(), o)
			if errors.Is(err, demo.ErrOptions) {
				return usageError{err}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Users, "users", demo.DefaultUsers, "synthetic population shared by the three channels (each site holds about 55-70% of it)")
	fl.Uint64Var(&o.Seed, "seed", 1, "seed of the synthetic data and of k-means")
	fl.StringSliceVar(&o.Data, "data", nil, "three standard-schema transaction files, one per site, instead of synthetic data")
	fl.StringVar(&o.Dir, "dir", "", "directory for everything the demo writes (default: a new temporary directory)")
	fl.StringVar(&o.AsOf, "as-of", "", "every site's as-of date (default: the day after the synthetic period; with --data each site's last purchase + 1 day)")
	fl.Float64Var(&o.Epsilon, "epsilon", demo.DefaultEpsilon, "privacy cost ε of the run")
	fl.Float64Var(&o.Delta, "delta", demo.DefaultDelta, "privacy cost δ of the run")
	fl.Float64Var(&o.BudgetEpsilon, "budget-epsilon", demo.DefaultBudgetEpsilon, "total ε of the dataset's budget in the log")
	fl.Float64Var(&o.BudgetDelta, "budget-delta", demo.DefaultBudgetDelta, "total δ of the dataset's budget in the log")
	fl.BoolVar(&o.DPOff, "dp-off", false, "run with DP disabled federation-wide (the nodes' configs then allow it): exact, un-noised releases, for tests")
	fl.StringVar(&o.RuleSet, "rule-set", demo.DefaultRuleSet, "segment rule set: value-tiers, rfm8 or rfm11")
	fl.IntVar(&o.K, "k", demo.DefaultK, "k-means clusters (1-8)")
	fl.DurationVar(&o.Timeout, "timeout", demo.DefaultTimeout, "give up on any one wait (leader, data analysed, outputs written) after this long")
	fl.BoolVar(&centralized, "centralized", false, "run the centralized plaintext baseline instead (no nodes)")
	return cmd
}
