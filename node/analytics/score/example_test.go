package score_test

import (
	"fmt"

	"github.com/strata-fed/strata/node/analytics/score"
)

// The peers' edge fixture: recency days of users 1..7, in user-id order.
func ExampleNTile() {
	recency := []int64{11, 1, 2, 56, 1, 71, 1}
	fmt.Println(score.NTile(recency, true, 5))
	// Output: [2 3 2 1 4 1 5]
}

// Analyst thresholds: "R < 30 days scores 5", "F ≥ 5 scores at least 4".
func ExampleCuts() {
	r := score.Cuts{Points: []int64{30, 90, 180, 365}, LowerIsBetter: true}
	f := score.Cuts{Points: []int64{2, 3, 5, 10}}
	fmt.Println(r.Score(29), r.Score(30), r.Score(400))
	fmt.Println(f.Score(1), f.Score(5), f.Score(12))
	// Output:
	// 5 4 1
	// 1 4 5
}

func ExampleQuantileCuts() {
	// frequencies 1,1,1,1,2,2,3,5,8,13 as one bin per value
	edges := []int64{1, 2, 3, 5, 8, 13, 14}
	counts := []int64{4, 2, 1, 1, 1, 1}
	cuts, err := score.QuantileCuts(edges, counts, 5)
	if err != nil {
		panic(err)
	}
	fmt.Println(cuts, score.Cuts{Points: cuts}.ScoreAll([]int64{1, 2, 3, 5, 8, 13}))
	// Output: [1 2 3 8] [2 3 4 4 5 5]
}
