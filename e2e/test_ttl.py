"""A collection's time to live (`collection.ttl.seconds`) with the real pymilvus client: rows
older than it leave every read at once (search, query, get, count), in growing and sealed
data; an upsert renews a row; setting the property on a collection applies to the rows it
has; compaction purges expired rows; values that are no whole number of seconds are refused."""
import random
import time

import pytest
from pymilvus import MilvusException

DIM = 8


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


def rows(ids, tag):
    return [{"id": i, "vector": vec(i), "tag": tag} for i in ids]


def count(client, name):
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def visible_ids(client, name):
    return sorted(r["id"] for r in client.query(name, filter="id >= 0", output_fields=["id"]))


def test_rows_expire_from_every_read_and_are_purged(client):
    ttl = 6
    client.create_collection("ttl", dimension=DIM, consistency_level="Strong",
                             properties={"collection.ttl.seconds": ttl})
    assert client.describe_collection("ttl")["properties"]["collection.ttl.seconds"] == str(ttl)
    t0 = time.time()
    client.insert("ttl", rows(range(0, 5), "old"))
    client.flush("ttl")  # the old rows in a sealed segment
    time.sleep(3.5)
    client.insert("ttl", rows(range(5, 10), "new"))  # growing
    client.upsert("ttl", rows([0], "renewed"))  # an upsert renews a row
    assert count(client, "ttl") == 10
    time.sleep(max(0.0, t0 + ttl + 0.5 - time.time()))
    assert time.time() < t0 + ttl + 3.0, "the machine was too slow for the test's window"
    assert visible_ids(client, "ttl") == [0, 5, 6, 7, 8, 9]
    assert count(client, "ttl") == 6
    assert [r["id"] for r in client.get("ttl", ids=[1, 2, 5])] == [5]
    hits = client.search("ttl", [vec(1)], limit=10, output_fields=["tag"])[0]
    assert sorted(h["id"] for h in hits) == [0, 5, 6, 7, 8, 9]
    assert {h["id"]: h["entity"]["tag"] for h in hits}[0] == "renewed"
    # later everything expires, and compaction removes the rows from the segments
    client.flush("ttl")
    time.sleep(max(0.0, t0 + 3.5 + ttl + 0.5 - time.time()))
    assert count(client, "ttl") == 0
    assert client.search("ttl", [vec(1)], limit=10)[0] == []
    deadline = time.time() + 60
    while client.get_collection_stats("ttl")["row_count"] != 0:
        assert time.time() < deadline, "expired rows were never purged"
        time.sleep(0.5)


def test_a_time_to_live_set_later_applies_to_rows_already_there(client):
    client.create_collection("later", dimension=DIM, consistency_level="Strong")
    client.insert("later", rows(range(3), "x"))
    time.sleep(2.2)
    client.insert("later", rows(range(3, 5), "y"))
    assert count(client, "later") == 5
    client.alter_collection_properties("later", properties={"collection.ttl.seconds": 2})
    assert visible_ids(client, "later") == [3, 4]
    # no time to live any more (0), before a compaction purged them: the rows are back
    client.alter_collection_properties("later", properties={"collection.ttl.seconds": 0})
    assert count(client, "later") == 5


def test_time_to_live_values_are_checked(client):
    client.create_collection("checked", dimension=DIM)
    for value in ["-1", "1.5", "soon"]:
        with pytest.raises(MilvusException, match="not a valid positive integer"):
            client.alter_collection_properties("checked", properties={"collection.ttl.seconds": value})
    assert "collection.ttl.seconds" not in client.describe_collection("checked").get("properties", {})
