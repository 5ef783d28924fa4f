"""An outside Zenoh peer (the eclipse-zenoh Python client) talking to a corridor RSU.

It publishes JSON detection frames on corridor/{region}/rsu/{rsu}/sensor/{sensor}/det/json
and reads the JSON state mirror on corridor/{region}/ix/{intersection}/state/json, then
prints one JSON line with what it saw. Used by roadside/tests/python_peer.rs.
"""
import argparse
import json
import threading
import time

import zenoh


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="demo")
    ap.add_argument("--rsu", default="rsu-a")
    ap.add_argument("--intersection", default="ix-a")
    ap.add_argument("--sensor", default="lidar-ne")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    conf = zenoh.Config()
    conf.insert_json5("mode", '"peer"')
    conf.insert_json5("connect/endpoints", json.dumps([args.endpoint]))
    conf.insert_json5("scouting/multicast/enabled", "false")
    session = zenoh.open(conf)

    lock = threading.Lock()
    states = []

    def on_state(sample: "zenoh.Sample") -> None:
        doc = json.loads(sample.payload.to_bytes())
        with lock:
            states.append(doc)

    sub = session.declare_subscriber(f"corridor/{args.region}/ix/{args.intersection}/state/json", on_state)
    pub = session.declare_publisher(f"corridor/{args.region}/rsu/{args.rsu}/sensor/{args.sensor}/det/json")
    time.sleep(0.5)
    sent = 0
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        frame = {
            "sensor": args.sensor,
            "kind": "lidar",
            "frame_seq": sent,
            "capture_time_ns": time.time_ns(),
            "detections": [
                {"class": "pedestrian", "class_confidence": 0.8, "position_m": [20.0, 0.0, -5.0],
                 "position_sigma_m": [0.15, 0.15, 0.1]},
            ],
        }
        pub.put(json.dumps(frame))
        sent += 1
        time.sleep(0.1)
    time.sleep(0.5)
    with lock:
        last = states[-1] if states else None
        n = len(states)
        max_objects = max((len(s["objects"]) for s in states), default=0)
    print(json.dumps({
        "zenoh_version": __import__("importlib.metadata").metadata.version("eclipse-zenoh"),
        "sent": sent,
        "states": n,
        "max_objects": max_objects,
        "last": last,
    }))
    sub.undeclare()
    session.close()


if __name__ == "__main__":
    main()
