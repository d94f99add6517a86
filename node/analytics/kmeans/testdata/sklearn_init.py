#!/usr/bin/python3
"""Draw k-means++ centres with scikit-learn and fit from them, for comparing
with this package's FitFrom from the same start (testdata/compare -init).
Not run in CI.

Usage: sklearn_init.py RFM.csv INIT_OUT.csv [--k 8] [--seed 42] [--labels OUT] [--repeat N]
Features exactly as ../shared/peers/kmeans_sklearn.py. Writes the initial
centres (standardized, repr precision) to INIT_OUT.csv, then fits
KMeans(init=centres, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=300)
and prints inertia, n_iter, fit time and final centres.
"""
import argparse
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.preprocessing import StandardScaler

ap = argparse.ArgumentParser()
ap.add_argument("rfm")
ap.add_argument("init_out")
ap.add_argument("--k", type=int, default=8)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--labels", default=None)
ap.add_argument("--repeat", type=int, default=1, help="fits to time; the median is printed")
a = ap.parse_args()
df = pd.read_csv(a.rfm, usecols=["user_id", "recency_days", "frequency", "monetary"])
df = df.sort_values("user_id", kind="stable").reset_index(drop=True)
x = np.column_stack([np.log1p(df["recency_days"].to_numpy(np.float64)),
                     np.log1p(df["frequency"].to_numpy(np.float64)),
                     np.log1p(df["monetary"].to_numpy(np.float64))])
z = StandardScaler().fit_transform(x)
centres, _ = kmeans_plusplus(z, a.k, random_state=a.seed)
with open(a.init_out, "w") as fh:
    for c in centres:
        fh.write(",".join(repr(float(v)) for v in c) + "\n")
fits = []
for _ in range(a.repeat):
    km = KMeans(n_clusters=a.k, init=centres, n_init=1, max_iter=300, tol=1e-4, algorithm="lloyd")
    t = time.perf_counter()
    km.fit(z)
    fits.append(time.perf_counter() - t)
fits.sort()
fit = fits[len(fits) // 2]
print(f"sklearn inertia={km.inertia_:.6f} per_point={km.inertia_ / len(z):.6f} n_iter={km.n_iter_} "
      f"fit_median={fit:.3f}s fits={[round(f, 3) for f in fits]} "
      f"sizes={np.bincount(km.labels_, minlength=a.k).tolist()}")
for c in km.cluster_centers_:
    print("centre " + ",".join(f"{v:.12f}" for v in c))
if a.labels:
    np.savetxt(a.labels, km.labels_, fmt="%d")
