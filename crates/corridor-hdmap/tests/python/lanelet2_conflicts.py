"""Conflicting lanelet pairs from the lanelet2 routing graph (vehicles, German rules), as JSON [[a, b], ...]."""
import json, re, sys
import lanelet2
from lanelet2.io import Origin
from lanelet2.projection import UtmProjector
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    m = re.search(r"lat=[\"']([-0-9.]+)[\"']\s+lon=[\"']([-0-9.]+)[\"']", f.read())
lat, lon = (float(m.group(1)), float(m.group(2))) if m else (0.0, 0.0)
lmap, _ = lanelet2.io.loadRobust(path, UtmProjector(Origin(lat, lon)))
rules = lanelet2.traffic_rules.create(lanelet2.traffic_rules.Locations.Germany, lanelet2.traffic_rules.Participants.Vehicle)
graph = lanelet2.routing.RoutingGraph(lmap, rules)
pairs = set()
for ll in lmap.laneletLayer:
    for c in graph.conflicting(ll):
        pairs.add((min(ll.id, c.id), max(ll.id, c.id)))
print(json.dumps(sorted(pairs)))
