// Command strata is the Strata node: local customer analytics, and a member of a
// privacy-preserving federation of such nodes. See `strata help`.
package main

import (
	"os"

	"github.com/strata-fed/strata/node/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
