"""Subscribes with the Zenoh Python client on the ROS 2 key (zenoh-plugin-ros2dds convention)
and decodes corridor_msgs/msg/IntersectionState from CDR by hand (no ROS install needed).

usage: ros2_sub.py ENDPOINT KEY   -> prints one JSON line with the decoded message
"""
import json
import struct
import sys
import threading

import zenoh


class Cdr:
    """A minimal CDR (XCDR1, little endian) reader; alignment counts from the body start."""

    def __init__(self, data):
        assert data[:4] == b"\x00\x01\x00\x00", f"encapsulation header {data[:4]!r} is not CDR_LE"
        self.b = data[4:]
        self.p = 0

    def _align(self, n):
        self.p += (-self.p) % n

    def _read(self, fmt, size):
        self._align(size)
        (v,) = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += size
        return v

    def u8(self):
        return self._read("B", 1)

    def boolean(self):
        return self._read("?", 1)

    def u16(self):
        return self._read("H", 2)

    def i32(self):
        return self._read("i", 4)

    def u32(self):
        return self._read("I", 4)

    def u64(self):
        return self._read("Q", 8)

    def f32(self):
        return self._read("f", 4)

    def f64(self):
        return self._read("d", 8)

    def string(self):
        n = self.u32()
        s = self.b[self.p : self.p + n - 1].decode()
        assert self.b[self.p + n - 1] == 0, "string not NUL-terminated"
        self.p += n
        return s

    def time(self):
        return {"sec": self.i32(), "nanosec": self.u32()}

    def vec3(self):
        return [self.f64(), self.f64(), self.f64()]

    def seq(self, item):
        return [item() for _ in range(self.u32())]


def decode(data):
    r = Cdr(data)

    def obj():
        return {
            "track_id": r.u64(),
            "object_class": r.string(),
            "class_confidence": r.f32(),
            "position": r.vec3(),
            "velocity": r.vec3(),
            "heading": r.f64(),
            "size": [r.f32(), r.f32(), r.f32()],
            "covariance": [r.f32() for _ in range(16)],
            "lane": r.string(),
        }

    def sig():
        return {
            "id": r.u16(),
            "state": r.u8(),
            "state_name": r.string(),
            "has_timing": r.boolean(),
            "min_end": r.time(),
            "max_end": r.time(),
            "likely_end": r.time(),
            "confidence": r.f32(),
        }

    msg = {
        "stamp": r.time(),
        "region": r.string(),
        "intersection": r.string(),
        "rsu": r.string(),
        "seq": r.u64(),
        "map_version": r.string(),
        "rules_version": r.string(),
        "objects": r.seq(obj),
        "signals": r.seq(sig),
    }
    assert r.p == len(r.b), f"{len(r.b) - r.p} trailing bytes"
    return msg


def main():
    endpoint, key = sys.argv[1], sys.argv[2]
    conf = zenoh.Config()
    conf.insert_json5("mode", json.dumps("peer"))
    conf.insert_json5("connect/endpoints", json.dumps([endpoint]))
    conf.insert_json5("scouting/multicast/enabled", "false")
    got = threading.Event()
    out = {}

    def on_sample(sample):
        if got.is_set():
            return
        out["key"] = str(sample.key_expr)
        out["msg"] = decode(bytes(sample.payload.to_bytes()))
        got.set()

    with zenoh.open(conf) as session:
        sub = session.declare_subscriber(key, on_sample)
        print("ready", flush=True)
        if not got.wait(20):
            print("timeout: no sample", file=sys.stderr)
            sys.exit(1)
        sub.undeclare()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
