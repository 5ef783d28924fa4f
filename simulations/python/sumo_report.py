#!/usr/bin/env python3
"""Scores a `corridor-sim sumo` run with py-motmetrics and writes report.html.

Usage: sumo_report.py OUT_DIR

Reads OUT_DIR/{gt,tracks,junctions,signals}.csv and report.json (written by corridor-sim),
adds a "motmetrics" section to report.json (overall, per junction, per class, misses by
distance from the junction centre) and writes OUT_DIR/report.html with embedded PNG plots:
trajectories against truth on the lane map, per-frame error, latency histogram, signal timeline.

Scoring: per junction, ground truth within the report's score radius of the junction centre
against that junction's tracks (id // 10^7 == junction index), Euclidean distance, a match
when the squared distance <= threshold^2 (max_d2 = 4.0 for 2 m).
"""

import base64
import io
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import motmetrics as mm  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

METRICS = ["num_frames", "mota", "motp", "idf1", "num_switches", "num_false_positives", "num_misses",
           "num_objects", "num_matches", "num_unique_objects", "recall", "precision"]


def finite(x):
    """A metric as a float, or None (JSON null) when it is NaN/inf (nothing to measure)."""
    x = float(x)
    return x if np.isfinite(x) else None


def f3(x):
    """Three decimals, or "n/a" for a metric with nothing to measure."""
    return "n/a" if x is None else f"{x:.3f}"


def accumulate(gt, tr, max_d2):
    acc = mm.MOTAccumulator(auto_id=False)
    gtf = {f: g for f, g in gt.groupby("frame")}
    trf = {f: t for f, t in tr.groupby("frame")}
    for f in sorted(set(gtf) | set(trf)):
        g = gtf.get(f, gt.iloc[0:0])
        t = trf.get(f, tr.iloc[0:0])
        d = mm.distances.norm2squared_matrix(g[["x", "y"]].to_numpy(), t[["x", "y"]].to_numpy(), max_d2=max_d2)
        acc.update(g["id"].astype(int).tolist(), t["id"].astype(int).tolist(), d, frameid=int(f))
    return acc


def fig_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def lane_shapes(net_file, centres, radius):
    try:
        import sumolib
        net = sumolib.net.readNet(net_file, withInternal=True)
    except Exception as e:  # noqa: BLE001 - the report still works without the map
        print(f"sumo_report: cannot read {net_file}: {e}", file=sys.stderr)
        return []
    shapes = []
    for edge in net.getEdges(withInternal=True):
        for lane in edge.getLanes():
            s = np.array(lane.getShape())
            if len(s) and min(np.min(np.hypot(s[:, 0] - cx, s[:, 1] - cy)) for cx, cy in centres) <= radius:
                shapes.append(s)
    return shapes


def main():
    out = sys.argv[1]
    rep_path = os.path.join(out, "report.json")
    rep = json.load(open(rep_path))
    gt = pd.read_csv(os.path.join(out, "gt.csv"))
    tr = pd.read_csv(os.path.join(out, "tracks.csv"))
    jn = pd.read_csv(os.path.join(out, "junctions.csv"), dtype={"id": str})
    sig = pd.read_csv(os.path.join(out, "signals.csv"), dtype={"junction": str, "controller": str})
    radius = rep["score_radius_m"]
    max_d2 = rep["match_threshold_m"] ** 2

    accs, names, per_class, misses = [], [], {}, []
    for _, j in jn.iterrows():
        g = gt[np.hypot(gt.x - j.x, gt.y - j.y) <= radius]
        t = tr[(tr.id // 10_000_000) == j["index"]]
        acc = accumulate(g, t, max_d2)
        accs.append(acc)
        names.append(str(j.id))
        ev = acc.mot_events.reset_index()
        miss = ev[ev.Type == "MISS"].merge(g, left_on=["FrameId", "OId"], right_on=["frame", "id"])
        if len(miss):
            misses.append(np.hypot(miss.x - j.x, miss.y - j.y).to_numpy())
        match = ev[ev.Type.isin(["MATCH", "SWITCH", "TRANSFER", "ASCEND", "MIGRATE"])]
        match = match.merge(g, left_on=["FrameId", "OId"], right_on=["frame", "id"])
        match = match.merge(t[["frame", "id", "class"]], left_on=["FrameId", "HId"], right_on=["frame", "id"],
                            suffixes=("", "_trk"))
        for c, grp in g.groupby("class"):
            d = per_class.setdefault(c, {"gt": 0, "matched": 0, "class_right": 0, "switches": 0})
            d["gt"] += len(grp)
        for c, grp in match.groupby("class"):
            d = per_class[c]
            d["matched"] += len(grp)
            d["class_right"] += int((grp["class"] == grp["class_trk"]).sum())
            d["switches"] += int((grp.Type == "SWITCH").sum())
    mh = mm.metrics.create()
    summary = mh.compute_many(accs, metrics=METRICS, names=names, generate_overall=True)
    matched = ["MATCH", "SWITCH", "TRANSFER", "ASCEND", "MIGRATE"]
    dist = {}
    for name, acc in zip(names, accs):
        e = acc.mot_events
        dist[name] = np.sqrt(e[e.Type.isin(matched)].D.to_numpy(dtype=float))
    dist["OVERALL"] = np.concatenate(list(dist.values())) if dist else np.array([])
    rows = {}
    for name, r in summary.iterrows():
        d = dist.get(str(name), np.array([]))
        rows[str(name)] = {
            "mota": finite(r.mota), "motp_m": float(d.mean()) if len(d) else 0.0,
            "motp_d2": finite(r.motp), "idf1": finite(r.idf1),
            "id_switches": int(r.num_switches), "false_positives": int(r.num_false_positives),
            "false_negatives": int(r.num_misses), "gt": int(r.num_objects), "matches": int(r.num_matches),
            "recall": finite(r.recall), "precision": finite(r.precision),
        }
    all_miss = np.concatenate(misses) if misses else np.array([])
    bands = [(0, 10), (10, 20), (20, 30), (30, 40), (40, 45), (45, radius + 1e-6)]
    gt_d = np.concatenate([np.hypot(gt.x - j.x, gt.y - j.y)[np.hypot(gt.x - j.x, gt.y - j.y) <= radius]
                           for _, j in jn.iterrows()]) if len(gt) else np.array([])
    fn_by_distance = [{"from_m": a, "to_m": min(b, radius), "misses": int(((all_miss >= a) & (all_miss < b)).sum()),
                       "gt": int(((gt_d >= a) & (gt_d < b)).sum())} for a, b in bands]
    classes = {c: {**d, "recall": d["matched"] / d["gt"] if d["gt"] else 0.0,
                   "class_accuracy": d["class_right"] / d["matched"] if d["matched"] else 0.0}
               for c, d in per_class.items()}
    rep["motmetrics"] = {
        "version": getattr(mm, "__version__", "?"), "max_d2": max_d2,
        "overall": rows.get("OVERALL", {}), "per_junction": {k: v for k, v in rows.items() if k != "OVERALL"},
        "per_class": classes, "fn_by_distance": fn_by_distance,
    }
    # strict JSON: a metric with nothing to measure (no match at a junction) is null, never NaN
    json.dump(rep, open(rep_path, "w"), indent=2, allow_nan=False)

    # ---- plots ----
    imgs = {}
    centres = [(j.x, j.y) for _, j in jn.iterrows()]
    lanes = lane_shapes(rep["net_file"], centres, radius + 30)
    n = len(jn)
    show = jn.head(min(n, 3))
    fig, axes = plt.subplots(1, len(show), figsize=(6.5 * len(show), 6.5), squeeze=False)
    for ax, (_, j) in zip(axes[0], show.iterrows()):
        for s in lanes:
            ax.plot(s[:, 0], s[:, 1], color="#cccccc", lw=0.8, zorder=0)
        g = gt[np.hypot(gt.x - j.x, gt.y - j.y) <= radius]
        t = tr[(tr.id // 10_000_000) == j["index"]]
        for _, grp in g.groupby("id"):
            ax.plot(grp.x, grp.y, color="black", lw=1.6, alpha=0.5)
        cmap = plt.get_cmap("tab20")
        for i, (_, grp) in enumerate(t.groupby("id")):
            ax.plot(grp.x, grp.y, ".", ms=1.5, color=cmap(i % 20))
        ax.add_patch(plt.Circle((j.x, j.y), radius, fill=False, ls="--", color="#888888"))
        ax.set_xlim(j.x - radius - 5, j.x + radius + 5)
        ax.set_ylim(j.y - radius - 5, j.y + radius + 5)
        ax.set_aspect("equal")
        m = rows.get(str(j.id), {})
        ax.set_title(f"{j.id}: MOTA {f3(m.get('mota', 0))} IDF1 {f3(m.get('idf1', 0))}")
        ax.set_xlabel("net x (m)")
    axes[0][0].set_ylabel("net y (m)  (black: truth, dots: tracks)")
    imgs["trajectories"] = fig_png(fig)

    # per-frame error: mean match distance and FN/FP counts per frame
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    evs = []
    for acc in accs:
        e = acc.mot_events.reset_index()
        evs.append(e)
    ev = pd.concat(evs) if evs else pd.DataFrame(columns=["FrameId", "Type", "D"])
    t_of = lambda f: np.asarray(f) * 0.1  # noqa: E731
    m = ev[ev.Type.isin(["MATCH", "SWITCH", "TRANSFER", "ASCEND", "MIGRATE"])]
    per = m.groupby("FrameId").D.mean()
    a1.plot(t_of(per.index), np.sqrt(per.values), lw=0.8)
    a1.set_ylabel("mean match error (m)")
    for typ, col in [("MISS", "tab:red"), ("FP", "tab:orange"), ("SWITCH", "tab:purple")]:
        c = ev[ev.Type == typ].groupby("FrameId").size()
        a2.plot(t_of(c.index), c.values, ".", ms=2, color=col, label=typ)
    a2.legend()
    a2.set_ylabel("events per frame")
    a2.set_xlabel("SUMO time (s)")
    imgs["per_frame"] = fig_png(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    h = rep.get("latency_hist_ms", [])
    if h:
        xs, cs = zip(*h)
        ax.bar(xs, cs, width=4.5, align="edge")
    ax.set_xlabel("capture -> vehicle latency (ms)")
    ax.set_ylabel("states")
    ax.set_title(f"p50 {rep['latency_p50_us'] / 1000:.1f} ms, p99 {rep['latency_p99_us'] / 1000:.1f} ms")
    imgs["latency"] = fig_png(fig)

    # signal timeline of the first junction
    colors = {"G": "#00a000", "g": "#70d070", "y": "#ffcc00", "Y": "#ffcc00", "r": "#d00000", "R": "#d00000",
              "u": "#ff8800", "s": "#800000", "o": "#bbbbbb", "O": "#444444"}
    if len(sig) and len(jn):
        j0 = str(jn.iloc[0].id)
        s0 = sig[sig.junction == j0]
        groups = sorted(s0.group.unique())
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 1.2 + 0.25 * len(groups) + 2.5), sharex=True,
                                      gridspec_kw={"height_ratios": [max(len(groups), 1), 6]})
        for gi, gid in enumerate(groups):
            sg = s0[s0.group == gid].sort_values("time")
            times, codes = sg.time.to_numpy(), sg.state.to_numpy()
            start = 0
            for i in range(1, len(times) + 1):
                if i == len(times) or codes[i] != codes[start]:
                    end = times[i] if i < len(times) else times[-1]
                    ax.barh(gi, end - times[start], left=times[start], color=colors.get(codes[start], "#888"),
                            height=0.8)
                    start = i
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels([f"g{g}" for g in groups], fontsize=6)
        ax.set_title(f"signal groups of {j0}")
        sg = s0[s0.group == groups[0]].sort_values("time") if groups else s0
        ax2.plot(sg.time, sg.predicted_ttc, label="predicted time to change", lw=1.2)
        ax2.plot(sg.time, sg.actual_ttc, "--", label="actual", lw=1.2)
        ax2.set_ylabel(f"g{groups[0] if groups else ''} (s)")
        ax2.set_xlabel("SUMO time (s)")
        ax2.legend(fontsize=7)
        imgs["signals"] = fig_png(fig)

    mo = rep["motmetrics"]["overall"]
    ov = rep["overall"]
    sf, sa = rep["spat_fixed_time"], rep["spat_adaptive"]

    def tr_row(name, r):
        return (f"<tr><td>{name}</td><td>{r.get('gt', 0)}</td><td>{f3(r.get('mota', 0))}</td>"
                f"<td>{f3(r.get('idf1', 0))}</td><td>{r.get('motp_m', 0):.3f}</td><td>{r.get('id_switches', 0)}</td>"
                f"<td>{r.get('false_positives', 0)}</td><td>{r.get('false_negatives', 0)}</td></tr>")

    jrows = "".join(tr_row(k, v) for k, v in rep["motmetrics"]["per_junction"].items())
    crows = "".join(f"<tr><td>{c}</td><td>{d['gt']}</td><td>{d['recall']:.3f}</td><td>{d['class_accuracy']:.3f}</td>"
                    f"<td>{d['switches']}</td></tr>" for c, d in sorted(classes.items()))
    brows = "".join(f"<tr><td>{b['from_m']:.0f}-{b['to_m']:.0f} m</td><td>{b['gt']}</td><td>{b['misses']}</td>"
                    f"<td>{(b['misses'] / b['gt'] if b['gt'] else 0):.3f}</td></tr>" for b in fn_by_distance)
    head = "<tr><th></th><th>GT</th><th>MOTA</th><th>IDF1</th><th>MOTP m</th><th>IDSW</th><th>FP</th><th>FN</th></tr>"
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>corridor SUMO report</title>
<style>body{{font-family:sans-serif;max-width:1400px;margin:1em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>corridor x SUMO</h1>
<p><code>{rep['sumocfg']}</code>, {len(jn)} RSU(s) of {rep['tl_junctions_in_net']} traffic-light junctions,
SUMO time {rep['t_start_s']:.1f}-{rep['t_end_s']:.1f} s, {rep['sumo_objects']} SUMO objects,
scored within {radius:.0f} m of each junction centre, {rep['match_threshold_m']:.0f} m threshold.</p>
<h2>Tracking</h2>
<table>{head}{tr_row('py-motmetrics overall', mo)}{tr_row('corridor scorer overall', {**ov, **ov.get('score', {})})}
</table><h3>per junction (py-motmetrics)</h3><table>{head}{jrows}</table>
<h3>per class (py-motmetrics)</h3><table><tr><th>class</th><th>GT</th><th>recall</th><th>class right</th>
<th>switches</th></tr>{crows}</table>
<h3>misses by distance from the centre</h3><table><tr><th>band</th><th>GT</th><th>FN</th><th>miss rate</th></tr>
{brows}</table>
<img src="data:image/png;base64,{imgs['trajectories']}">
<h3>per frame</h3><img src="data:image/png;base64,{imgs['per_frame']}">
<h2>Latency</h2><p>capture -> vehicle p50 {rep['latency_p50_us']} us, p99 {rep['latency_p99_us']} us;
RSU ingest -> vehicle p50 {rep['pipeline_p50_us']} us, p99 {rep['pipeline_p99_us']} us;
dropped {rep['dropped']} {rep['drop_reasons']}</p>
<img src="data:image/png;base64,{imgs['latency']}">
<h2>Signals (SPaT)</h2><p>fixed-time: {sf['samples']} samples, |predicted - actual| mean {sf['mean_abs_s']:.3f} s,
p95 {sf['p95_abs_s']:.3f} s; actuated/other: {sa['samples']} samples, mean {sa['mean_abs_s']:.3f} s,
p95 {sa['p95_abs_s']:.3f} s, actual inside [min,max] {sa['within_window']:.3f}</p>
{'<img src="data:image/png;base64,' + imgs['signals'] + '">' if 'signals' in imgs else ''}
</body></html>"""
    open(os.path.join(out, "report.html"), "w").write(html)
    os.makedirs(os.path.join(out, "img"), exist_ok=True)
    for k, v in imgs.items():
        open(os.path.join(out, "img", f"{k}.png"), "wb").write(base64.b64decode(v))
    print(f"motmetrics: mota={f3(mo.get('mota'))} idf1={f3(mo.get('idf1'))} "
          f"idsw={mo.get('id_switches', 0)} fp={mo.get('false_positives', 0)} fn={mo.get('false_negatives', 0)}")


if __name__ == "__main__":
    main()
