// Package cli holds the strata command line: one file per subcommand, wired
// together here. Commands parse flags and call into library packages; they
// hold no analytics, crypto or consensus logic of their own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by all commands.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (bad input, failed check, runtime error)
	exitUsage   = 2 // the command line itself was wrong
)

// usageError marks errors in how the command was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newRoot builds the command tree. out and errOut receive normal and
// diagnostic output; tests pass buffers.
func newRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Privacy-preserving multi-party customer analytics",
		Long: `Strata computes customer analytics (RFM, segments, lifecycle stages, clusters,
lifetime value and churn risk) next to a data owner's own transaction logs, and
merges them with other owners' nodes through threshold-encrypted, differentially
private aggregation, so no raw row or per-user value ever leaves its owner.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newCertsCmd(),
		newServeCmd(),
		newCheckConfigCmd(),
		newAnalyzeCmd(), newCheckSourceCmd(),
		newSumCmd(), newKeysCmd(), newBudgetCmd(),
		newSegmentCmd(),
		newSynthCmd(),
		newDemoCmd(),
	)
	return root
}

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	return run(context.Background(), args, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(out, errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(errOut, "strata:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}
