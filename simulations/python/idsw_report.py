#!/usr/bin/env python3
"""List and classify every ID switch of a scored run, from py-motmetrics' event log.

Usage: idsw_report.py OUT_DIR [--threshold 2.0] [--json]

OUT_DIR holds `gt.csv` and `tracks.csv` (written by `corridor-sim run --out` or by the
`fusion_offline` example); when the example's `tracks_debug.csv` (time since update, age,
sensors per track row) and `replays.csv` are there, their columns are used too.

Matching is motmetrics 1.4.0 with `norm2squared_matrix(max_d2=threshold**2)`, as
`motmetrics_score.py` does, so the switches are exactly the ones both scorers count. For each
SWITCH event it prints: the frame (s after the warm-up), the ground-truth object and class, the
track it had and the one it has now, the nearest other ground-truth object (distance, class)
now and the closest any other object came in the 3 s before, what the old track is doing now
(gone, matched to another object, unmatched), the new track's age, time since update and
sensors, and replays within the second before. Cause classes:

- `swap`: the new track was matched to another object in the 3 s before (two tracks traded
  objects, or one track jumped from its object to this one);
- `rebirth-lost`: the old track is gone and the new one is young: the object was lost (coasting
  ran out, or the track was deleted) and re-born;
- `rebirth-alive`: the new track is young and the old one still exists elsewhere: the old track
  drifted off (a wrong update or a wrong prediction) and the object was re-born;
- `takeover`: an older track that was not on another object took over (a duplicate or a false
  track that had sat on the object).
"""
import argparse
import json
import os
import sys

import numpy as np
import pandas as pd

from motmetrics_score import accumulate  # the same accumulation as the scorer the tests compare

LOOKBACK = 30  # frames (3 s)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threshold", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    gt = pd.read_csv(os.path.join(args.dir, "gt.csv"))
    tr = pd.read_csv(os.path.join(args.dir, "tracks.csv"))
    dbg_path = os.path.join(args.dir, "tracks_debug.csv")
    dbg = pd.read_csv(dbg_path) if os.path.exists(dbg_path) else None
    rp_path = os.path.join(args.dir, "replays.csv")
    replays = pd.read_csv(rp_path) if os.path.exists(rp_path) else None

    acc = accumulate(gt, tr, args.threshold)
    g_by = {f: d for f, d in gt.groupby("frame")}
    t_by = {f: d for f, d in tr.groupby("frame")}
    empty = gt.iloc[0:0]
    ev = acc.mot_events.reset_index()
    matches = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
    # (frame, hid) -> oid and (frame, oid) -> hid
    h2o = {(int(r.FrameId), int(r.HId)): int(r.OId) for r in matches.itertuples()}
    o2h = {(int(r.FrameId), int(r.OId)): int(r.HId) for r in matches.itertuples()}
    cls = dict(zip(gt["id"].astype(int), gt["class"]))
    first_seen = tr.groupby("id")["frame"].min().to_dict()
    dbg_by = {(int(r.frame), int(r.id)): r for r in dbg.itertuples()} if dbg is not None else {}

    out = []
    for r in ev[ev["Type"] == "SWITCH"].itertuples():
        f, oid, hid = int(r.FrameId), int(r.OId), int(r.HId)
        # the previous track of this object
        prev_h, prev_f = None, None
        for k in range(f - 1, max(f - 600, -1), -1):
            if (k, oid) in o2h:
                prev_h, prev_f = o2h[(k, oid)], k
                break
        g = g_by.get(f, empty)
        me = g[g["id"] == oid]
        mx, my = float(me["x"].iloc[0]), float(me["y"].iloc[0])
        others = g[g["id"] != oid]
        near_d, near_c = float("inf"), "-"
        if len(others):
            d = np.hypot(others["x"] - mx, others["y"] - my)
            i = int(np.argmin(d.to_numpy()))
            near_d, near_c = float(d.iloc[i]), others["class"].iloc[i]
        # the closest any other object came in the look-back window
        min_d, min_c = near_d, near_c
        for k in range(max(f - LOOKBACK, 0), f):
            gk = g_by.get(k)
            if gk is None:
                continue
            m = gk[gk["id"] == oid]
            if not len(m):
                continue
            o = gk[gk["id"] != oid]
            if not len(o):
                continue
            d = np.hypot(o["x"] - float(m["x"].iloc[0]), o["y"] - float(m["y"].iloc[0]))
            i = int(np.argmin(d.to_numpy()))
            if float(d.iloc[i]) < min_d:
                min_d, min_c = float(d.iloc[i]), o["class"].iloc[i]
        tf = t_by.get(f, empty)
        old_alive = prev_h is not None and (tf["id"] == prev_h).any()
        old_now = h2o.get((f, prev_h)) if prev_h is not None else None
        # was the new track on another object lately?
        new_prev_obj = None
        for k in range(f - 1, max(f - LOOKBACK, -1), -1):
            o = h2o.get((k, hid))
            if o is not None and o != oid:
                new_prev_obj = o
                break
        new_age = (f - first_seen.get(hid, f)) * 0.1
        if new_prev_obj is not None:
            cause = "swap"
        elif new_age < 3.0 and not old_alive:
            cause = "rebirth-lost"
        elif new_age < 3.0:
            cause = "rebirth-alive"
        else:
            cause = "takeover"
        gap = (f - prev_f) * 0.1 if prev_f is not None else None
        rec = {
            "t_s": round(f * 0.1, 1),
            "gt": oid,
            "class": cls.get(oid, "?"),
            "old_track": prev_h,
            "new_track": hid,
            "unmatched_gap_s": round(gap, 1) if gap is not None else None,
            "nearest_m": round(near_d, 2),
            "nearest_class": near_c,
            "closest_3s_m": round(min_d, 2),
            "closest_3s_class": min_c,
            "old_alive": bool(old_alive),
            "old_now_on": old_now,
            "old_now_on_class": cls.get(old_now, "-") if old_now is not None else "-",
            "new_was_on": new_prev_obj,
            "new_age_s": round(new_age, 1),
            "cause": cause,
        }
        d_new = dbg_by.get((f, hid))
        if d_new is not None:
            rec["new_since_update_s"] = round(float(d_new.since_update_s), 2)
            rec["new_sensors"] = d_new.sensors
        if prev_h is not None and prev_f is not None:
            d_old = dbg_by.get((prev_f, prev_h))
            if d_old is not None:
                rec["old_since_update_s_last_match"] = round(float(d_old.since_update_s), 2)
                rec["old_sensors"] = d_old.sensors
            # did the old track coast to its end?
            if not old_alive:
                last = tr[tr["id"] == prev_h]["frame"].max()
                rec["old_last_frame_s"] = round(float(last) * 0.1, 1)
                d_last = dbg_by.get((int(last), prev_h))
                if d_last is not None:
                    rec["old_since_update_at_end_s"] = round(float(d_last.since_update_s), 2)
        if replays is not None:
            lo = (f - 10) * 0.1
            n = int(((replays["capture_rel_s"] >= lo - 0.3) & (replays["capture_rel_s"] <= f * 0.1)).sum())
            rec["replays_1s_before"] = n
        out.append(rec)

    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        for rec in out:
            print(" ".join(f"{k}={v}" for k, v in rec.items()))
        causes = pd.Series([r["cause"] for r in out]).value_counts().to_dict() if out else {}
        print(f"switches={len(out)} gt_ids={gt['id'].nunique()} causes={causes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
