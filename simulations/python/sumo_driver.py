#!/usr/bin/env python3
"""SUMO driver for `corridor-sim sumo`: steps SUMO through libsumo and streams JSON lines.

Protocol (one JSON object per line on stdout; logs go to stderr):

1. `{"type": "meta", ...}`: the net file (absolute path), the step length, the start time,
   every non-internal junction with its net position, and every traffic light's programmes
   (`programs[program_id] = {"type": int, "phases": [[duration, min_dur, max_dur, state, next], ...]}`,
   `next`: the phase indices that may follow, empty for the next in order).
2. The driver then reads ONE line on stdin: `{"centres": [[x, y], ...], "radius": r}`; only
   objects within `r` metres of one of the centres are streamed (an empty list streams all).
3. One `{"type": "step", "t": t, "o": [...], "s": {...}}` per simulation step from the start
   time on, where each object is `[id, vclass, x, y, angle_deg, speed, length, width, height]`
   (x/y: SUMO's front-bumper position, net coordinates) and `s[tls] = [program, phase, state,
   next_switch, spent]`.
4. `{"type": "end", "t": t}` at the end or when SUMO runs out of demand.

Usage: sumo_driver.py --sumocfg FILE --seconds N [--warmup W] [--begin B] [--step 0.1] [--sandbox DIR]
"""

import argparse
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

import libsumo as traci


def net_file_of(cfg_path):
    root = ET.parse(cfg_path).getroot()
    for el in root.iter("net-file"):
        v = el.get("value")
        if v:
            return os.path.abspath(os.path.join(os.path.dirname(cfg_path), v.split(",")[0].strip()))
    raise SystemExit(f"{cfg_path}: no <net-file value=...> in the SUMO configuration")


def sandbox(cfg_path, dst):
    """Copies the configuration's directory to `dst` (SUMO scenarios write their outputs beside
    their files) and points input paths that leave that directory back at the originals."""
    import shutil
    src_dir = os.path.dirname(cfg_path)
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src_dir, dst, copy_function=shutil.copyfile)
    for root, dirs, _ in os.walk(dst):  # the source may be read-only; the copy must not be
        for d in dirs + ["."]:
            p = os.path.join(root, d)
            os.chmod(p, os.stat(p).st_mode | 0o700)
    new_cfg = os.path.join(dst, os.path.basename(cfg_path))
    tree = ET.parse(new_cfg)
    changed = False
    for el in tree.getroot().iter():
        if el.tag not in ("net-file", "route-files", "additional-files") or not el.get("value"):
            continue
        parts = []
        for v in el.get("value").split(","):
            v = v.strip()
            full = os.path.normpath(os.path.join(src_dir, v))
            if os.path.isabs(v) or not full.startswith(src_dir + os.sep):
                parts.append(full)
                changed = True
            else:
                parts.append(v)
        el.set("value", ",".join(parts))
    if changed:
        tree.write(new_cfg)
    return new_cfg


# SUMO (libsumo runs in this process) prints to stdout: keep the real stdout for the protocol
# and send file descriptor 1 to stderr.
PROTO = os.fdopen(os.dup(1), "w", buffering=1 << 20)
os.dup2(2, 1)
sys.stdout = sys.stderr


def emit(obj):
    PROTO.write(json.dumps(obj, separators=(",", ":")))
    PROTO.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sumocfg", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--warmup", type=float, default=0.0)
    ap.add_argument("--begin", type=float, default=None)
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--sandbox", default=None, help="run from a copy of the configuration's directory here")
    a = ap.parse_args()

    cfg = os.path.abspath(a.sumocfg)
    if a.sandbox:
        cfg = sandbox(cfg, os.path.abspath(a.sandbox))
    net_file = net_file_of(cfg)
    args = ["sumo", "-c", cfg, "--step-length", str(a.step), "--no-step-log", "true",
            "--no-warnings", "true", "--duration-log.disable", "true"]
    if a.begin is not None:
        args += ["--begin", str(a.begin)]
    if a.seed is not None:
        args += ["--seed", str(a.seed)]
    traci.start(args)

    t = traci.simulation.getTime()
    start = t + a.warmup
    end = start + a.seconds
    while t < start - 1e-6:
        traci.simulationStep()
        t = traci.simulation.getTime()

    junctions = []
    for jid in traci.junction.getIDList():
        if jid.startswith(":"):
            continue
        x, y = traci.junction.getPosition(jid)
        junctions.append({"id": jid, "x": x, "y": y})
    tls = {}
    for tid in traci.trafficlight.getIDList():
        progs = {}
        for logic in traci.trafficlight.getAllProgramLogics(tid):
            progs[logic.programID] = {
                "type": int(logic.type),
                "phases": [[p.duration, p.minDur, p.maxDur, p.state, list(p.next)] for p in logic.phases],
            }
        tls[tid] = {"programs": progs, "junctions": list(traci.trafficlight.getControlledJunctions(tid))}
    emit({"type": "meta", "net_file": net_file, "step": a.step, "start": t, "end": end,
          "junctions": junctions, "tls": tls})
    PROTO.flush()

    sel = json.loads(sys.stdin.readline() or "{}")
    centres = sel.get("centres", [])
    r2 = float(sel.get("radius", 1e9)) ** 2

    def near(x, y):
        if not centres:
            return True
        return any((x - cx) ** 2 + (y - cy) ** 2 <= r2 for cx, cy in centres)

    static = {}  # id -> (vclass, length, width, height)
    step_no = 0
    while True:
        objs = []
        for vid in traci.vehicle.getIDList():
            x, y = traci.vehicle.getPosition(vid)
            if not near(x, y):
                continue
            key = "v" + vid
            if key not in static:
                static[key] = (traci.vehicle.getVehicleClass(vid), traci.vehicle.getLength(vid),
                               traci.vehicle.getWidth(vid), traci.vehicle.getHeight(vid))
            c, ln, w, h = static[key]
            objs.append([key, c, round(x, 3), round(y, 3), round(traci.vehicle.getAngle(vid), 2),
                         round(traci.vehicle.getSpeed(vid), 3), ln, w, h])
        for pid in traci.person.getIDList():
            if traci.person.getVehicle(pid):
                continue  # riding: the vehicle is the object
            x, y = traci.person.getPosition(pid)
            if not near(x, y):
                continue
            key = "p" + pid
            if key not in static:
                static[key] = ("pedestrian", traci.person.getLength(pid), traci.person.getWidth(pid),
                               traci.person.getHeight(pid))
            c, ln, w, h = static[key]
            objs.append([key, c, round(x, 3), round(y, 3), round(traci.person.getAngle(pid), 2),
                         round(traci.person.getSpeed(pid), 3), ln, w, h])
        sig = {}
        for tid in tls:
            sig[tid] = [traci.trafficlight.getProgram(tid), traci.trafficlight.getPhase(tid),
                        traci.trafficlight.getRedYellowGreenState(tid), traci.trafficlight.getNextSwitch(tid),
                        traci.trafficlight.getSpentDuration(tid)]
        emit({"type": "step", "t": round(t, 3), "o": objs, "s": sig})
        step_no += 1
        if step_no % 50 == 0:
            PROTO.flush()
        if t >= end - 1e-6 or (traci.simulation.getMinExpectedNumber() == 0 and t > start):
            break
        traci.simulationStep()
        t = traci.simulation.getTime()
        # drop the static cache of objects that left
        if step_no % 600 == 0:
            alive = set("v" + v for v in traci.vehicle.getIDList()) | set("p" + p for p in traci.person.getIDList())
            for k in [k for k in static if k not in alive]:
                del static[k]
    emit({"type": "end", "t": t})
    PROTO.flush()
    traci.close()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
