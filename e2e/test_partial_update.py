"""Partial upserts (pymilvus 2.6 `upsert(..., partial_update=True)`): the fields a request leaves
out keep the row's values (scalars, arrays, vectors, dynamic keys, a BM25-free schema), on
growing and sealed rows; a new key that leaves out a field with no default is refused."""
import pytest
import pymilvus
from pymilvus import DataType, MilvusException

pytestmark = pytest.mark.skipif(not pymilvus.__version__.startswith("2.6"),
                                reason="partial_update is a pymilvus 2.6 option")


def vec(i):
    return [float(i), 1.0, 0.5, -1.0]


def test_partial_update_keeps_the_other_fields(client):
    s = client.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("title", DataType.VARCHAR, max_length=32)
    s.add_field("score", DataType.DOUBLE, nullable=True)
    s.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("pu", schema=s, index_params=ip, consistency_level="Strong")
    rows = [{"id": i, "title": f"t{i}", "score": i / 2, "tags": [i, i + 1], "v": vec(i), "extra": i}
            for i in range(10)]
    client.insert("pu", rows[:5])
    client.flush("pu")
    client.insert("pu", rows[5:])
    # one sealed row and one growing row: only the score changes
    client.upsert("pu", [{"id": 3, "score": 9.5, "more": "x"}, {"id": 7, "score": 1.25, "more": "y"}],
                  partial_update=True)
    got = {g["id"]: g for g in client.query("pu", filter="id in [3, 7]",
                                            output_fields=["title", "score", "tags", "v", "extra",
                                                           "more"])}
    for i, score, more in [(3, 9.5, "x"), (7, 1.25, "y")]:
        assert got[i]["score"] == score and got[i]["more"] == more
        assert got[i]["title"] == f"t{i}" and list(got[i]["tags"]) == [i, i + 1]
        assert [float(x) for x in got[i]["v"]] == vec(i) and got[i]["extra"] == i
    # an Array field alone (examples/array_partial_update.py), and a vector alone
    client.upsert("pu", [{"id": 6, "tags": [40, 41, 42]}], partial_update=True)
    client.upsert("pu", [{"id": 2, "v": vec(20)}], partial_update=True)
    got = {g["id"]: g for g in client.query("pu", filter="id in [2, 6]",
                                            output_fields=["title", "tags", "v"])}
    assert list(got[6]["tags"]) == [40, 41, 42] and got[6]["title"] == "t6"
    assert [float(x) for x in got[2]["v"]] == vec(20) and list(got[2]["tags"]) == [2, 3]
    assert client.search("pu", [vec(20)], limit=1)[0][0]["id"] == 2
    assert client.query("pu", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 10
    # a new key: the fields it leaves out need a default or null (v has neither)
    with pytest.raises(MilvusException, match="no default value and is not nullable"):
        client.upsert("pu", [{"id": 100, "title": "new"}], partial_update=True)
    client.upsert("pu", [{"id": 101, "title": "new", "tags": [1], "v": vec(1)}],
                  partial_update=True)
    got = client.query("pu", filter="id == 101", output_fields=["title", "score"])
    assert got[0]["title"] == "new" and got[0]["score"] is None
    # bounded: one request updates at most 16,384 rows (each read back first)
    with pytest.raises(MilvusException, match="at most 16384 rows"):
        client.upsert("pu", [{"id": i, "score": 1.0} for i in range(16_385)], partial_update=True)
    assert client.query("pu", filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 11
