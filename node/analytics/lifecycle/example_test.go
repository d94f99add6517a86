package lifecycle_test

import (
	"fmt"

	"github.com/strata-fed/strata/node/analytics/lifecycle"
)

func ExampleParams_Stage() {
	var p lifecycle.Params // zero value: the documented defaults
	fmt.Println(p.Stage(lifecycle.History{FirstDays: 12, LastDays: 3, PrevDays: 12, Orders: 2}))
	fmt.Println(p.Stage(lifecycle.History{FirstDays: 400, LastDays: 120, PrevDays: 200, Orders: 5}))
	fmt.Println(p.Stage(lifecycle.History{FirstDays: 700, LastDays: 20, PrevDays: 400, Orders: 3}))
	fmt.Println(p.Stage(lifecycle.History{FirstDays: 500, LastDays: 500, PrevDays: -1, Orders: 1}))
	// Output:
	// new
	// at_risk
	// reactivated
	// churned
}
