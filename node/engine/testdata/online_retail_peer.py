#!/usr/bin/python3
"""Independent expectation for the Online Retail test (pandas).

Usage: online_retail_peer.py IN.csv.gz OUT.csv COUNTS.json

Applies the cleaning of deploy/examples/online_retail.yaml with pandas, then the
peers' RFM definitions (../shared/peers/rfm_pandas.py: as-of = max(ts) + 1 day,
recency floor days, frequency = distinct invoices, monetary = integer cents,
SQL ntile(5) scores with ties broken by user id). Line amounts are
rint(Quantity * UnitPrice * 100), the pandas way; the Go test reports lines
where that differs from exact decimal rounding.
Writes the per-user RFM CSV and a JSON file of row counts per cleaning step.
"""
import json
import sys

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 1_000_000_000


def ntile_by_order(order, n, buckets=5):
    q, rem = divmod(n, buckets)
    pos = np.arange(n, dtype=np.int64)
    big = rem * (q + 1)
    tile = pos + 1 if q == 0 else np.where(pos < big, pos // (q + 1) + 1, rem + (pos - big) // q + 1)
    out = np.empty(n, dtype=np.int64)
    out[order] = tile
    return out


def main():
    inp, out, counts_path = sys.argv[1:4]
    df = pd.read_csv(inp, dtype=str, keep_default_na=False)
    counts = {"read": len(df)}
    df = df[df["CustomerID"] != ""]
    counts["no_user"] = counts["read"] - len(df)
    before = len(df)
    df = df.drop_duplicates(keep="first")
    counts["duplicates"] = before - len(df)
    before = len(df)
    df = df[~df["InvoiceNo"].str.startswith("C")]
    counts["cancelled"] = before - len(df)
    q = df["Quantity"].astype(np.int64)
    p = df["UnitPrice"].astype(np.float64)
    before = len(df)
    keep = (q > 0) & (p > 0)
    df, q, p = df[keep], q[keep], p[keep]
    counts["filtered"] = before - len(df)
    counts["accepted"] = len(df)
    cents = np.rint(q.to_numpy() * p.to_numpy() * 100.0).astype(np.int64)
    ts = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    d = pd.DataFrame({"user_id": df["CustomerID"].astype(np.int64).to_numpy(), "order_id": df["InvoiceNo"].to_numpy(),
                      "ts": ts.to_numpy(), "cents": cents})
    g = d.groupby("user_id", sort=True).agg(last_ts=("ts", "max"), frequency=("order_id", "nunique"), cents=("cents", "sum"))
    asof = d["ts"].max() + pd.Timedelta(days=1)
    rec = (asof.value - g["last_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)) // NS_PER_DAY
    uid = g.index.to_numpy()
    freq = g["frequency"].to_numpy()
    c = g["cents"].to_numpy()
    n = len(uid)
    r = ntile_by_order(np.lexsort((uid, -rec)), n)
    f = ntile_by_order(np.lexsort((uid, freq)), n)
    m = ntile_by_order(np.lexsort((uid, c)), n)
    ac = np.abs(c)
    money = [("-" if v < 0 else "") + f"{a // 100}.{a % 100:02d}" for v, a in zip(c, ac)]
    pd.DataFrame({"user_id": uid, "recency_days": rec, "frequency": freq, "monetary": money,
                  "r_score": r, "f_score": f, "m_score": m}).to_csv(out, index=False)
    counts["users"] = int(n)
    counts["orders"] = int(d.groupby("user_id")["order_id"].nunique().sum())
    with open(counts_path, "w") as fh:
        json.dump(counts, fh)


if __name__ == "__main__":
    main()
