#!/usr/bin/env python3
"""Score a corridor tracks.csv against gt.csv with py-motmetrics (1.4.0) and print JSON.

Usage: motmetrics_score.py GT_CSV TRACKS_CSV [--threshold 2.0]

Both files are MOTChallenge-style `frame,id,x,y,z,vx,vy,class,confidence` (integer ids,
map-frame metres). Matching is on the ground-plane Euclidean distance: distances are
`mm.distances.norm2squared_matrix(gt_xy, tr_xy, max_d2=threshold**2)`, so a pair matches when
within `threshold` metres and the assignment minimises the sum of squared distances. MOTP is
reported as the mean Euclidean distance of the matches (the square root of each matched D),
which is what `simulations/src/score.rs` reports as `motp_m`. Every frame present in either
file is one `update`, in frame order (empty frames included), as score.rs does.
"""
import argparse
import json
import sys

import motmetrics as mm
import numpy as np
import pandas as pd


def accumulate(gt, tr, threshold):
    """One motmetrics accumulator over every frame present in either table (as score.rs does)."""
    acc = mm.MOTAccumulator(auto_id=False)
    frames = sorted(set(gt["frame"].tolist()) | set(tr["frame"].tolist()))
    g_by = {f: d for f, d in gt.groupby("frame")}
    t_by = {f: d for f, d in tr.groupby("frame")}
    empty = gt.iloc[0:0]
    for f in frames:
        g = g_by.get(f, empty)
        t = t_by.get(f, empty)
        d = mm.distances.norm2squared_matrix(
            g[["x", "y"]].to_numpy(dtype=float), t[["x", "y"]].to_numpy(dtype=float), max_d2=threshold**2
        )
        acc.update(g["id"].astype(int).tolist(), t["id"].astype(int).tolist(), d, frameid=int(f))
    return acc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("gt")
    ap.add_argument("tracks")
    ap.add_argument("--threshold", type=float, default=2.0)
    args = ap.parse_args()
    gt = pd.read_csv(args.gt)
    tr = pd.read_csv(args.tracks)
    acc = accumulate(gt, tr, args.threshold)
    mh = mm.metrics.create()
    names = ["num_frames", "mota", "idf1", "num_switches", "num_false_positives", "num_misses",
             "num_objects", "num_matches", "num_unique_objects"]
    summary = mh.compute(acc, metrics=names, name="all")
    ev = acc.mot_events
    matched = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
    motp = float(np.sqrt(matched["D"].astype(float)).mean()) if len(matched) else 0.0
    row = summary.loc["all"]
    out = {
        "motmetrics_version": getattr(mm, "__version__", "unknown"),
        "frames": int(row["num_frames"]),
        "mota": float(row["mota"]),
        "motp_m": motp,
        "idf1": float(row["idf1"]),
        "id_switches": int(row["num_switches"]),
        "false_positives": int(row["num_false_positives"]),
        "false_negatives": int(row["num_misses"]),
        "gt": int(row["num_objects"]),
        "matches": int(row["num_matches"]),
        "gt_ids": int(row["num_unique_objects"]),
    }
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
