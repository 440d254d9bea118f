"""The kind test's client side: pymilvus against the cluster's proxy Service (port-forwarded)."""

import random
import subprocess
import sys
import time

from pymilvus import MilvusClient

uri = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:19530"
c = MilvusClient(uri)
assert "docs" in c.list_collections(), c.list_collections()
rows = [{"embedding": [random.random() for _ in range(8)], "title": f"doc {i}"} for i in range(1000)]
ids = c.insert("docs", rows)["ids"]
c.flush("docs")
hits = c.search("docs", [rows[7]["embedding"]], limit=3, output_fields=["title"], consistency_level="Strong")[0]
assert hits[0]["entity"]["title"] == "doc 7", hits
print(f"inserted {len(ids)} rows; top hit {hits[0]}")

# a collection created through pymilvus shows up as a Collection resource
c.create_collection("from_pymilvus", dimension=8)
for _ in range(60):
    out = subprocess.run(["kubectl", "-n", "vectors", "get", "collection", "from-pymilvus", "-o",
                          "jsonpath={.metadata.annotations.quarry\\.dev/mirror}"], capture_output=True, text=True)
    if out.stdout == "true":
        print("mirrored as collection/from-pymilvus")
        break
    time.sleep(2)
else:
    sys.exit("from_pymilvus was not mirrored into a Collection resource")
