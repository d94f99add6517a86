package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
)

// adminFlags are the flags of the commands that talk to admin APIs.
type adminFlags struct {
	addrs   []string
	timeout time.Duration
	json    bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.addrs, "admin", []string{"http://127.0.0.1:7480"},
		"admin API base URLs of federation nodes (repeat or comma-separate); leader-only requests try each until the leader answers")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 3*time.Minute, "give up after this long")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the full JSON answer")
}

func (f *adminFlags) client() *admin.Client { return &admin.Client{Addrs: f.addrs} }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSumCmd() *cobra.Command {
	var (
		af     adminFlags
		spec   securesum.Spec
		params string
	)
	cmd := &cobra.Command{
		Use:   "sum",
		Short: "Run a threshold-encrypted, differentially private sum of a statistic across the federation",
		Long: `Run a secure sum of a named statistic across the federation and print the
result, its noise parameters and the privacy budget left.

Every site clamps its vector to [--lo, --hi], adds its share of the DP noise,
and encrypts it under the federation's collective key; the leader sums the
ciphertexts, and t sites fixed in the log decrypt only the aggregate. The
round's (ε, δ) is charged to the dataset's ledger before anything is
decrypted; a round the ledger cannot pay for is refused. A site contributes
only if its statistic is bound to that dataset. If the leader changes
mid-round the round is aborted and redone.

For statistics whose provider bounds each user's contribution itself, give
--l1 and --l2 (the per-user sensitivity; --lo/--hi then bound one user) and
--max-abs (each site clamps its whole vector to [-max-abs, max-abs]); sites
refuse such a round unless their provider guarantees at most that
sensitivity. --params passes the statistic's public JSON parameters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if params != "" {
				if !json.Valid([]byte(params)) {
					return fmt.Errorf("--params: not valid JSON")
				}
				spec.Params = json.RawMessage(params)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), af.timeout)
			defer cancel()
			res, err := af.client().SecureSum(ctx, spec, af.timeout)
			if err != nil {
				return fmt.Errorf("secure sum: %w", err)
			}
			out := cmd.OutOrStdout()
			if af.json {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "round %s: %s over %d sites (decryptors %v)\n", res.RoundID, res.Statistic, len(res.Contributors), res.Decryptors)
			fmt.Fprintf(out, "result: %v\n", res.Values)
			fmt.Fprintf(out, "noise: mechanism=%s sigma=%.4g sensitivity(L2)=%.4g\n", res.Noise.Mechanism, res.Noise.Sigma, res.Noise.Sensitivity)
			fmt.Fprintf(out, "charged: epsilon=%.6g delta=%.6g\n", res.Charged.Epsilon, res.Charged.Delta)
			if res.BudgetLeft != nil {
				fmt.Fprintf(out, "budget left (%s): epsilon=%.6g delta=%.6g\n", res.Dataset, res.BudgetLeft.Epsilon, res.BudgetLeft.Delta)
			} else {
				fmt.Fprintf(out, "budget left (%s): no ledger (DP disabled)\n", res.Dataset)
			}
			return nil
		},
	}
	af.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&spec.Statistic, "statistic", "", "name of the statistic every site holds (required)")
	fl.IntVar(&spec.Length, "length", 0, "number of coordinates (0 = the leader's own statistic's length)")
	fl.Int64Var(&spec.Lo, "lo", 0, "per-coordinate lower clamp bound")
	fl.Int64Var(&spec.Hi, "hi", 0, "per-coordinate upper clamp bound")
	fl.StringVar(&params, "params", "", "the statistic's public parameters (JSON, written into the log)")
	fl.Float64Var(&spec.L1, "l1", 0, "explicit per-user L1 sensitivity (with --l2 and --max-abs; 0 = from the clamp bounds)")
	fl.Float64Var(&spec.L2, "l2", 0, "explicit per-user L2 sensitivity")
	fl.Int64Var(&spec.MaxAbs, "max-abs", 0, "with explicit sensitivities: per-coordinate bound of each site's whole vector")
	fl.Float64Var(&spec.Epsilon, "epsilon", 0, "privacy cost ε of this release")
	fl.Float64Var(&spec.Delta, "delta", 0, "privacy cost δ of this release")
	fl.StringVar(&spec.Dataset, "dataset", "", "budget ledger to charge (default: the statistic's name)")
	fl.StringSliceVar(&spec.Participants, "participants", nil, "restrict the round to these sites (default: every live key holder)")
	_ = cmd.MarkFlagRequired("statistic")
	return cmd
}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the federation's collective encryption keys"}
	var (
		af        adminFlags
		threshold int
		params    string
	)
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Run a dealerless t-of-N key set-up among all joined sites",
		Long: `Run a dealerless threshold key set-up: every joined site generates its secret,
sends its public-key share to the leader and private Shamir shares to each
other site over mutually authenticated QUIC; any t sites can later decrypt
an aggregate together, fewer learn nothing. Key shares are stored under each
node's data directory (0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), af.timeout)
			defer cancel()
			k, err := af.client().StartKeySetup(ctx, threshold, params)
			if err != nil {
				return fmt.Errorf("key set-up: %w", err)
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), k)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key epoch %d active: %d-of-%d over %v, params %s, public key sha256 %s\n",
				k.Epoch, k.Threshold, len(k.Participants), k.Participants, k.HEParams, k.PublicKeyHash)
			return nil
		},
	}
	af.register(initCmd)
	initCmd.Flags().IntVar(&threshold, "threshold", 0, "decryption threshold t (0 = the federation setting)")
	initCmd.Flags().StringVar(&params, "he-params", "", "HE parameter set (default: the federation setting, then "+securesum.DefaultParams+")")
	cmd.AddCommand(initCmd)
	return cmd
}

func newBudgetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "budget", Short: "Manage privacy budgets"}
	var (
		af             adminFlags
		dataset        string
		epsilon, delta float64
	)
	set := &cobra.Command{
		Use:   "set",
		Short: "Create a dataset's privacy-budget ledger (once; it can never be reset or raised)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), af.timeout)
			defer cancel()
			b, err := af.client().SetBudget(ctx, dataset, epsilon, delta)
			if err != nil {
				return fmt.Errorf("set budget: %w", err)
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), b)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "budget %s/%s: epsilon=%g delta=%g (%s composition)\n",
				b.Federation, b.Dataset, b.Total.Epsilon, b.Total.Delta, b.Composition)
			return nil
		},
	}
	af.register(set)
	set.Flags().StringVar(&dataset, "dataset", "", "dataset name (required)")
	set.Flags().Float64Var(&epsilon, "epsilon", 0, "total ε")
	set.Flags().Float64Var(&delta, "delta", 0, "total δ")
	_ = set.MarkFlagRequired("dataset")
	cmd.AddCommand(set)
	return cmd
}
