"""Search by primary keys (pymilvus 2.6 `search(ids=[...])`): the keys' own vectors are the
queries, one result list per key, the same answer as searching with those vectors; integer and
VarChar keys, a filter and partitions apply; unknown keys are refused by name."""
import inspect
import random

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

DIM = 8


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture(autouse=True)
def needs_ids(client):
    if "ids" not in inspect.signature(MilvusClient.search).parameters:
        pytest.skip("search(ids=...) is pymilvus 2.6+")


def test_search_by_integer_keys_equals_search_by_their_vectors(client):
    client.create_collection("byids", dimension=DIM, metric_type="L2", consistency_level="Strong")
    client.insert("byids", [{"id": i, "vector": vec(i), "tag": i % 3} for i in range(200)])
    by_ids = client.search("byids", ids=[3, 77], limit=5, output_fields=["tag"])
    by_vectors = client.search("byids", data=[vec(3), vec(77)], limit=5, output_fields=["tag"])
    assert len(by_ids) == 2
    for got, want in zip(by_ids, by_vectors):
        assert [h["id"] for h in got] == [h["id"] for h in want]
        assert [h["distance"] for h in got] == pytest.approx([h["distance"] for h in want])
    assert by_ids[0][0]["id"] == 3 and by_ids[1][0]["id"] == 77  # each key is its own nearest
    # a filter applies to the search
    filtered = client.search("byids", ids=[3], limit=5, filter="tag == 1", output_fields=["tag"])
    assert filtered[0] and all(h["entity"]["tag"] == 1 for h in filtered[0])
    with pytest.raises(MilvusException, match=r"primary keys not found in collection .*\[999\]"):
        client.search("byids", ids=[3, 999], limit=5)


def test_search_by_varchar_keys(client):
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("emb", index_type="FLAT", metric_type="COSINE")
    client.create_collection("byids_str", schema=schema, index_params=index, consistency_level="Strong")
    client.insert("byids_str", [{"pk": f"k{i}", "emb": vec(i)} for i in range(50)])
    hits = client.search("byids_str", ids=["k5", "k9"], limit=3, output_fields=["pk"])
    assert [h[0]["entity"]["pk"] for h in hits] == ["k5", "k9"]
    assert hits[0][0]["distance"] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(MilvusException, match="primary keys not found"):
        client.search("byids_str", ids=["nope"], limit=3)
