"""Scalar indexes through the real pymilvus client: INVERTED, STL_SORT, Trie, BITMAP and
AUTOINDEX on scalar and Array fields through the same create/describe/list/drop index calls as vector
indexes; filters give the same rows before the indexes exist (column scans of growing data),
once they are built on sealed segments (the node's counter of predicates answered by an index
shows them used), and after a restart (index files loaded back). Milvus's refusals (a type the
field does not take, a parameter a scalar index has no use for) change nothing."""
import time
import urllib.request

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

NAME = "scalars"
ROWS = 400
WORDS = ["alpha", "alpine", "al", "beta", "Alpha beta", "", "gamma"]
INDEXES = {  # field -> index type asked for ("" leaves it to AUTOINDEX)
    "title": "Trie",
    "year": "STL_SORT",
    "score": "INVERTED",
    "flag": "BITMAP",
    "small": "",
    "labels": "INVERTED",  # an Array field: answers array_contains*
    "codes": "BITMAP",
}


def row(i):
    return {
        "id": i,
        "vec": [float(i % 7), 1.0, 0.5, -1.0],
        "title": WORDS[i % len(WORDS)],
        "year": 1990 + (i * 7) % 30,
        "score": (i % 9) / 4.0 - 1.0,
        "flag": i % 3 == 0,
        "small": (i * 13) % 256 - 128,
        "note": f"n{i % 5}",
        "ratio": i / 10.0,
        "labels": [WORDS[(i + k) % len(WORDS)] for k in range(i % 3)],
        "codes": [i % 4, (i * 3) % 5],
        "meta": {"k": i % 3},
    }


# filter -> which row(i) it selects
FILTERS = {
    'title == "alpha"': lambda r: r["title"] == "alpha",
    'title like "al%"': lambda r: r["title"].startswith("al"),
    'title >= "alpine" and title < "gamma"': lambda r: "alpine" <= r["title"] < "gamma",
    'title in ["beta", "", "zeta"]': lambda r: r["title"] in ("beta", ""),
    'title not in ["alpha"]': lambda r: r["title"] != "alpha",
    "year > 2010": lambda r: r["year"] > 2010,
    "year <= 1995.5 or year == 2019": lambda r: r["year"] <= 1995.5 or r["year"] == 2019,
    "year in [1990, 2000, 2001]": lambda r: r["year"] in (1990, 2000, 2001),
    "score != 0.25": lambda r: r["score"] != 0.25,
    "score < 0 and small > 0": lambda r: r["score"] < 0 and r["small"] > 0,
    "flag == true": lambda r: r["flag"],
    "not (flag == false) and year < 2000": lambda r: r["flag"] and r["year"] < 2000,
    "small in [-128, 0, 5, 127]": lambda r: r["small"] in (-128, 0, 5, 127),
    'small >= 100 and note == "n1"': lambda r: r["small"] >= 100 and r["note"] == "n1",
    "ratio > 30 and small < -100": lambda r: r["ratio"] > 30 and r["small"] < -100,
    'array_contains(labels, "beta")': lambda r: "beta" in r["labels"],
    'array_contains_any(labels, ["", "gamma"]) and year > 2000':
        lambda r: ("" in r["labels"] or "gamma" in r["labels"]) and r["year"] > 2000,
    "array_contains_all(codes, [1, 3])": lambda r: 1 in r["codes"] and 3 in r["codes"],
    "not array_contains(codes, 0)": lambda r: 0 not in r["codes"],
}


def create(client):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("title", DataType.VARCHAR, max_length=32)
    schema.add_field("year", DataType.INT32)
    schema.add_field("score", DataType.DOUBLE)
    schema.add_field("flag", DataType.BOOL)
    schema.add_field("small", DataType.INT8)
    schema.add_field("note", DataType.VARCHAR, max_length=8)
    schema.add_field("ratio", DataType.DOUBLE)
    schema.add_field("labels", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=16)
    schema.add_field("codes", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    schema.add_field("meta", DataType.JSON)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="L2")
    for field, kind in INDEXES.items():
        ip.add_index(field, index_type=kind, index_name=f"{field}_idx")
    client.create_collection(NAME, schema=schema, index_params=ip, consistency_level="Strong")


def check_filters(client):
    rows = [row(i) for i in range(ROWS)]
    for expr, want in FILTERS.items():
        got = sorted(r["id"] for r in client.query(NAME, filter=expr, output_fields=["id"], limit=ROWS))
        assert got == [r["id"] for r in rows if want(r)], expr
    # a search filtered by indexed fields ranks the passing rows only
    hits = client.search(NAME, [[3.0, 1.0, 0.5, -1.0]], filter='flag == true and title like "al%"',
                         limit=50, output_fields=["title", "flag"])[0]
    assert hits and all(h["entity"]["flag"] and h["entity"]["title"].startswith("al") for h in hits)
    want = sum(1 for r in rows if r["flag"] and r["title"].startswith("al"))
    assert len(hits) == min(50, want)


def http_ports(server):
    if hasattr(server, "cluster"):
        return [http for _, http in server.cluster.ports.values()]
    return [server.http_port]


def index_answers(server):
    """Filter predicates answered by scalar indexes, summed over the server's processes."""
    total = 0.0
    for port in http_ports(server):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("quarry_worker_scalar_index_answers_total"):
                total += float(line.split()[-1])
    return total


def wait_indexes_used(client, server, seconds=60):
    """Until the scalar indexes are built, loaded and answer the filters (which stay right)."""
    deadline = time.time() + seconds
    before = index_answers(server)
    while True:
        check_filters(client)
        if index_answers(server) > before:
            return
        assert time.time() < deadline, "no filter was answered by a scalar index"
        time.sleep(0.3)


def test_scalar_indexes_answer_filters_and_survive_a_restart(server):
    client = MilvusClient(server.uri)
    create(client)
    assert sorted(client.list_indexes(NAME)) == sorted(["vec"] + [f"{f}_idx" for f in INDEXES])
    for field, kind in INDEXES.items():
        desc = client.describe_index(NAME, f"{field}_idx")
        assert desc["field_name"] == field
        assert desc["index_type"] == (kind or "AUTOINDEX")
    client.insert(NAME, [row(i) for i in range(ROWS)])
    answered = index_answers(server)
    check_filters(client)  # growing rows: column scans, no index yet
    assert index_answers(server) == answered
    client.flush(NAME)
    wait_indexes_used(client, server)
    client.close()
    server.stop()
    server.start()
    client = MilvusClient(server.uri)
    wait_indexes_used(client, server)
    client.close()


def test_scalar_index_refusals_change_nothing(client):
    create(client)
    before = sorted(client.list_indexes(NAME))
    refused = [
        ("note", {"index_type": "STL_SORT"}, "numeric"),
        ("ratio", {"index_type": "Trie"}, "varchar"),
        ("ratio", {"index_type": "BITMAP"}, "bitmap"),
        ("meta", {"index_type": "INVERTED"}, "json"),
        ("id", {"index_type": "BITMAP"}, "primary key"),
        ("note", {"index_type": "INVERTED", "params": {"nlist": 8}}, "nlist"),
        ("note", {"index_type": "HNSW"}, "scalar"),
        ("title", {"index_type": "INVERTED"}, "at most one"),  # the field has an index already
    ]
    for field, params, words in refused:
        ip = client.prepare_index_params()
        ip.add_index(field, **params)
        with pytest.raises(MilvusException) as e:
            client.create_index(NAME, ip)
        assert words.lower() in str(e.value).lower(), (field, params, str(e.value))
        assert sorted(client.list_indexes(NAME)) == before
    # a valid one goes in; dropping one (released first, as Milvus asks) leaves filters right
    ip = client.prepare_index_params()
    ip.add_index("note", index_type="INVERTED", index_name="note_idx")
    client.create_index(NAME, ip)
    assert client.describe_index(NAME, "note_idx")["index_type"] == "INVERTED"
    client.insert(NAME, [row(i) for i in range(ROWS)])
    client.flush(NAME)
    check_filters(client)
    client.release_collection(NAME)
    client.drop_index(NAME, "score_idx")
    client.load_collection(NAME)
    assert "score_idx" not in client.list_indexes(NAME)
    check_filters(client)
