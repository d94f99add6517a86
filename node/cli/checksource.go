package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/node/ingest"
)

// errStopDryRun ends a dry run after the requested number of rows.
var errStopDryRun = errors.New("dry run complete")

func newCheckSourceCmd() *cobra.Command {
	var rows int64
	cmd := &cobra.Command{
		Use:   "check-source SRC.yaml",
		Short: "Validate a source file (and optionally dry-run its first rows) without analysing",
		Long: `Check-source loads a source file strictly (unknown keys are errors), opens the
data file it names and checks that the header holds every configured column.
With --rows N it also parses rows until N are accepted (or the file ends) and
prints the row accounting and the first accepted rows, so cleaning rules can
be checked before a full run. Exit status 0 means the source is usable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := ingest.LoadSource(args[0])
			if err != nil {
				return err
			}
			if err := src.Check(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: ok (data %s, format %s)\n", args[0], src.Path, src.Format)
			if rows <= 0 {
				return nil
			}
			var n int64
			acc, err := src.Read(cmd.Context(), func(r *ingest.Row) error {
				n++
				if n <= 5 {
					fmt.Fprintf(out, "  line %d: user %s order %s unix %d cents %d\n", r.Line, r.User, r.Order, r.Unix, r.Cents)
				}
				if n >= rows {
					return errStopDryRun
				}
				return nil
			}, nil)
			if err != nil && !errors.Is(err, errStopDryRun) {
				return err
			}
			fmt.Fprintf(out, "dry run: read %d, accepted %d, no user %d, duplicates %d, cancelled %d, filtered %d, rejected %d\n",
				acc.Read, acc.Accepted, acc.NoUser, acc.Duplicates, acc.Cancelled, acc.Filtered, acc.Rejected)
			return nil
		},
	}
	cmd.Flags().Int64Var(&rows, "rows", 0, "also parse rows until this many are accepted (a dry run)")
	return cmd
}
