package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/daemon"
)

func newServeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a federation node (QUIC + raft + admin API) until SIGTERM",
		Long: `Run a Strata node with the given configuration file.

The node binds its QUIC socket and admin API, starts raft under its data
directory, founds the federation (federation.bootstrap) or joins it through
federation.join, and serves until SIGTERM or SIGINT, then shuts down cleanly.
Validate a configuration first with 'strata check-config'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadFile(path)
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			d, err := daemon.New(cfg, log)
			if err != nil {
				return fmt.Errorf("start node: %w", err)
			}
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "node.yaml", "node configuration file")
	return cmd
}

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE...",
		Short: "Validate node configuration files without starting a node",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, p := range args {
				if _, err := config.LoadFile(p); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "FAILED %v\n", err)
					failed++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "OK %s\n", p)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d configuration files are invalid", failed, len(args))
			}
			return nil
		},
	}
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
