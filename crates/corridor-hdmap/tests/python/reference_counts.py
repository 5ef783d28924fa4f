"""Reference counts for a map, from the source format's own tool.

SUMO nets: sumolib (eclipse-sumo). Lanelet2 OSM: the lanelet2 package.
Prints one JSON object: lanes, connections, signal_groups, crosswalks, junctions (SUMO).
The counting rules mirror corridor's model (documented in corridor-hdmap):
- SUMO lanes: lanes of normal and internal edges (not crossings / walking areas);
  connections: from a normal lane to a normal lane; signal groups: distinct (tls, linkIndex)
  over all controlled links, pedestrian crossings included; crosswalks: crossing edges.
- Lanelet2 lanes: lanelets that are not crosswalks; connections: pairs (a, b) with
  lanelet2.geometry.follows(a, b); signal groups: TrafficLight regulatory elements.
"""
import json
import re
import sys


def sumo_counts(path):
    import sumolib

    net = sumolib.net.readNet(path, withInternal=True, withPedestrianConnections=True)
    edges = net.getEdges(withInternal=True)
    lanes = sum(len(e.getLanes()) for e in edges if e.getFunction() in ("", "normal", "internal"))
    crossings = sum(1 for e in edges if e.getFunction() == "crossing")
    conns = 0
    for e in net.getEdges(withInternal=False):
        if e.getFunction() not in ("", "normal"):
            continue
        for lane in e.getLanes():
            for c in lane.getOutgoing():
                if c.getTo().getFunction() in ("", "normal"):
                    conns += 1
    groups = set()
    for tls in net.getTrafficLights():
        for idx in tls.getLinks():
            groups.add((tls.getID(), idx))
    return {
        "lanes": lanes,
        "connections": conns,
        "signal_groups": len(groups),
        "crosswalks": crossings,
        "junctions": len(net.getNodes()),
        "controllers": len(net.getTrafficLights()),
    }


def lanelet2_counts(path):
    import lanelet2
    from lanelet2.io import Origin
    from lanelet2.projection import UtmProjector

    # the projection does not change counts; any origin near the map works
    with open(path, encoding="utf-8") as f:
        m = re.search(r'lat="([-0-9.]+)"\s+lon="([-0-9.]+)"', f.read())
    lat, lon = (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)
    lmap, _errors = lanelet2.io.loadRobust(path, UtmProjector(Origin(lat, lon)))
    crosswalks = sum(1 for ll in lmap.laneletLayer if "subtype" in ll.attributes and ll.attributes["subtype"] == "crosswalk")
    lls = [ll for ll in lmap.laneletLayer if not ("subtype" in ll.attributes and ll.attributes["subtype"] == "crosswalk")]
    conns = 0
    for a in lls:
        for b in lls:
            if lanelet2.geometry.follows(a, b):
                conns += 1
    tls = sum(1 for re_ in lmap.regulatoryElementLayer if isinstance(re_, lanelet2.core.TrafficLight))
    return {"lanes": len(lls), "connections": conns, "signal_groups": tls, "crosswalks": crosswalks}


def main():
    path = sys.argv[1]
    if ".net.xml" in path:
        out = sumo_counts(path)
    elif path.endswith(".osm"):
        out = lanelet2_counts(path)
    else:
        raise SystemExit(f"no reference tool for {path}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
