"""The Python equivalent of minimal_vehicle / planner: corridor_sdk (pyo3 binding of the SDK
core) over the Zenoh Python client.

    scripts/test.sh            # or: maturin develop -m crates/corridor-sdk-python/Cargo.toml
    .venv/bin/python crates/corridor-sdk/examples/python_vehicle.py tcp/127.0.0.1:7447 demo ix-a 3.2 -22 90

Prints, twice a second, the lane, the signal's time to green, the speed limit and the objects
predicted in the ego's path.
"""
import json
import math
import sys
import threading
import time

import zenoh

import corridor_sdk


def main():
    endpoint, region, ix = sys.argv[1:4]
    x, y, heading = float(sys.argv[4]), float(sys.argv[5]), math.radians(float(sys.argv[6]))
    core = corridor_sdk.Corridor(region, [ix], cache_dir=".corridor-cache")
    lock = threading.Lock()
    conf = zenoh.Config()
    conf.insert_json5("connect/endpoints", json.dumps([endpoint]))

    def on_sample(sample):
        key, payload = str(sample.key_expr), bytes(sample.payload.to_bytes())
        with lock:
            if key.endswith("/events"):
                core.handle_event(key, payload, time.time())
            else:
                core.handle_state(key, payload, time.time())

    with zenoh.open(conf) as session:
        subs = [session.declare_subscriber(k, on_sample) for k in core.subscriptions()]
        while True:
            with lock:
                fetches = core.due_fetches(time.time())
            for selector in fetches:
                for reply in session.get(selector, timeout=2.0):
                    if reply.ok is not None:
                        with lock:
                            handle = core.handle_map_bundle if "/map/" in selector else core.handle_rules_bundle
                            handle(bytes(reply.ok.payload.to_bytes()), time.time())
            with lock:
                now = time.time()
                for status in core.poll_status(now):
                    print("status:", status)
                try:
                    lane = core.my_lane(x, y, heading, "car", now)
                    path = core.in_path(x, y, heading, "car", now)
                except corridor_sdk.QueryError as e:
                    print("waiting:", e)
                else:
                    sig = lane["signal"] or {}
                    rules = lane["rules"] or {}
                    print(
                        f"{lane['lane']}: sg{sig.get('group')} {sig.get('state')} "
                        f"changes in {sig.get('likely_s') or sig.get('min_s')} s, "
                        f"limit {rules.get('speed_limit_kmh')} km/h, "
                        f"in path: {[(o['class'], round(o['time_to_enter_s'], 1)) for o in path]}"
                    )
            time.sleep(0.5)
        for s in subs:
            s.undeclare()


if __name__ == "__main__":
    main()
