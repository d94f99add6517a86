// Command compare runs this package's k-means on a peers' RFM CSV
// (user_id,recency_days,frequency,monetary,...) with the features of
// ../shared/peers/kmeans_sklearn.py, to compare with scikit-learn by hand.
// It lives under testdata so that ./... builds and CI ignore it.
//
//	go run ./node/analytics/kmeans/testdata/compare -rfm /tmp/rfm_1m.csv -seeds 1,2,3
//	go run ./node/analytics/kmeans/testdata/compare -rfm /tmp/rfm_1m.csv -init /tmp/init.csv
//
// With -init (CSV of k rows of 3 standardized coordinates, as written by
// sklearn_init.py) it runs FitFrom from those centres and prints the
// resulting centres, to compare with sklearn's from the same start.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-fed/strata/node/analytics/kmeans"
)

func main() {
	rfm := flag.String("rfm", "/tmp/rfm_1m.csv", "peers' RFM CSV")
	k := flag.Int("k", 8, "clusters")
	seeds := flag.String("seeds", "42", "comma-separated seeds")
	restarts := flag.Int("restarts", 1, "restarts")
	init := flag.String("init", "", "CSV of initial centres (standardized); runs FitFrom")
	labelsOut := flag.String("labels", "", "write labels (one per line) to this file")
	repeat := flag.Int("repeat", 1, "fits per seed; prints each fit time and the median")
	flag.Parse()

	r, f, m, err := readRFM(*rfm)
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Now()
	x := kmeans.Log1pRFM(r, f, m)
	mean, std := kmeans.Standardize(x, 3)
	fmt.Printf("users=%d features %.3fs mean=%v std=%v\n", len(r), time.Since(t0).Seconds(), mean, std)

	var labels []int
	if *init != "" {
		c, err := readCentres(*init)
		if err != nil {
			log.Fatal(err)
		}
		var times []float64
		var model kmeans.Model
		for range *repeat {
			t := time.Now()
			m, l, err := kmeans.FitFrom(x, 3, c, kmeans.Options{})
			if err != nil {
				log.Fatal(err)
			}
			times = append(times, time.Since(t).Seconds())
			model, labels = m, l
		}
		slices.Sort(times)
		fmt.Printf("fitfrom inertia=%.6f per_point=%.6f n_iter=%d fit_median=%.3fs fits=%v sizes=%v\n", model.Inertia,
			model.Inertia/float64(len(r)), model.Iterations, times[len(times)/2], times, model.Sizes)
		for _, cj := range model.Centroids {
			fmt.Printf("centre %.12f,%.12f,%.12f\n", cj[0], cj[1], cj[2])
		}
	} else {
		for _, s := range strings.Split(*seeds, ",") {
			seed, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				log.Fatal(err)
			}
			var times []float64
			var model kmeans.Model
			for range *repeat {
				t := time.Now()
				m, l, err := kmeans.Fit(x, 3, kmeans.Options{K: *k, Seed: seed, Restarts: *restarts})
				if err != nil {
					log.Fatal(err)
				}
				times = append(times, time.Since(t).Seconds())
				model, labels = m, l
			}
			slices.Sort(times)
			fmt.Printf("seed=%d inertia=%.6f per_point=%.6f n_iter=%d fit_median=%.3fs fits=%v sizes=%v\n", seed, model.Inertia,
				model.Inertia/float64(len(r)), model.Iterations, times[len(times)/2], times, model.Sizes)
		}
	}
	if *labelsOut != "" {
		var b strings.Builder
		for _, l := range labels {
			fmt.Fprintln(&b, l)
		}
		if err := os.WriteFile(*labelsOut, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func readRFM(path string) (r, f, m []int64, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Scan() // header
	for sc.Scan() {
		p := strings.Split(sc.Text(), ",")
		rv, err1 := strconv.ParseInt(p[1], 10, 64)
		fv, err2 := strconv.ParseInt(p[2], 10, 64)
		mv, err3 := strconv.ParseFloat(p[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, nil, nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		r, f, m = append(r, rv), append(f, fv), append(m, int64(math.Round(mv*100)))
	}
	return r, f, m, sc.Err()
}

func readCentres(path string) ([][]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]float64
	for _, line := range strings.Fields(string(b)) {
		var c []float64
		for _, s := range strings.Split(line, ",") {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, err
			}
			c = append(c, v)
		}
		out = append(out, c)
	}
	return out, nil
}
