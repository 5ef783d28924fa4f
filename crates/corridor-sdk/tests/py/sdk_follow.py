"""The Python binding against a running RSU-like publisher and map/rules queryables.

Follows one intersection with corridor_sdk.Corridor over the Zenoh Python client: subscribes
to Corridor.subscriptions(), fetches the maps and rules the states name (due_fetches ->
session.get -> handle_map_bundle / handle_rules_bundle), then asks my_lane, objects_in_ego
and in_path. Prints one JSON line with the answers.

usage: sdk_follow.py ENDPOINT REGION INTERSECTION X Y HEADING
"""
import json
import sys
import threading
import time

import zenoh

import corridor_sdk


def main():
    endpoint, region, ix = sys.argv[1], sys.argv[2], sys.argv[3]
    x, y, heading = map(float, sys.argv[4:7])
    core = corridor_sdk.Corridor(region, [ix], freshness_s=0.5)
    lock = threading.Lock()
    conf = zenoh.Config()
    conf.insert_json5("mode", json.dumps("peer"))
    conf.insert_json5("connect/endpoints", json.dumps([endpoint]))
    conf.insert_json5("scouting/multicast/enabled", "false")

    def on_state(sample):
        with lock:
            core.handle_state(str(sample.key_expr), bytes(sample.payload.to_bytes()), time.time())

    def on_event(sample):
        with lock:
            core.handle_event(str(sample.key_expr), bytes(sample.payload.to_bytes()), time.time())

    with zenoh.open(conf) as session:
        subs = []
        for key in core.subscriptions():
            subs.append(session.declare_subscriber(key, on_event if key.endswith("/events") else on_state))
        print("ready", flush=True)
        deadline = time.time() + 30
        answer = None
        while time.time() < deadline:
            with lock:
                fetches = core.due_fetches(time.time())
            for selector in fetches:
                for reply in session.get(selector, timeout=2.0):
                    if reply.ok is None:
                        continue
                    payload = bytes(reply.ok.payload.to_bytes())
                    with lock:
                        if "/map/" in selector:
                            core.handle_map_bundle(payload, time.time())
                        else:
                            core.handle_rules_bundle(payload, time.time())
            with lock:
                now = time.time()
                if core.usability(ix, now) == "usable":
                    try:
                        lane = core.my_lane(x, y, heading, "car", now)
                    except corridor_sdk.QueryError:
                        lane = None
                    if lane is not None and lane["rules"] is not None:
                        objs = core.objects_in_ego(ix, x, y, heading, now)
                        path = core.in_path(x, y, heading, "car", now)
                        answer = {
                            "lane": lane,
                            "n_objects": len(objs["objects"]),
                            "first_object": objs["objects"][0] if objs["objects"] else None,
                            "in_path": len(path),
                            "stats": core.stats(),
                            "status": core.poll_status(now),
                        }
                        break
            time.sleep(0.05)
        for s in subs:
            s.undeclare()
    if answer is None:
        with lock:
            print("no usable answer; usability=%s stats=%s" % (core.usability(ix, time.time()), core.stats()), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
