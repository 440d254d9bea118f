"""Array fields through the real pymilvus client: a collection with an Array of every element
type, inserts, query and search outputs in the form pymilvus decodes, the array filter
functions (array_contains*, array_length, element access, whole-array equality) on growing
data and again on sealed segments loaded from their files, upsert and delete by an array
filter, nullable arrays, Milvus's refusals (schema and data) that change nothing, and the flow
of pymilvus' own example (examples/datatypes/hello_milvus_array.py)."""
import random

import pymilvus
import pytest
from pymilvus import DataType, MilvusException

DIM = 4
ROWS = 30
NAME = "arrays"
ELEMENTS = [
    ("bools", DataType.BOOL),
    ("i8", DataType.INT8),
    ("i16", DataType.INT16),
    ("i32", DataType.INT32),
    ("i64", DataType.INT64),
    ("f32", DataType.FLOAT),
    ("f64", DataType.DOUBLE),
    ("tags", DataType.VARCHAR),
]
ARRAYS = [name for name, _ in ELEMENTS]
PYMILVUS = tuple(int(x) for x in pymilvus.__version__.split(".")[:2])


def row(i):
    return {
        "id": i,
        "vec": [float(i), 1.0, 0.5, -1.0],
        "bools": [i % 2 == 0, True],
        "i8": [i, -i],
        "i16": [i * 100],
        "i32": [i, i + 1, i + 2],
        "i64": list(range(i % 5)),  # 0..4 elements, some rows empty
        "f32": [i + 0.5],
        "f64": [i * 1.25, -1.0],
        "tags": [f"t{i % 3}", "all"],
        "extra": i % 4,  # a dynamic key, unaffected by the arrays
    }


def create(client, name=NAME):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    for field, element in ELEMENTS:
        extra = {"max_length": 8} if element == DataType.VARCHAR else {}
        schema.add_field(field, DataType.ARRAY, element_type=element, max_capacity=5, **extra)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")


def ids(client, expr, name=NAME):
    return sorted(r["id"] for r in client.query(name, filter=expr, output_fields=["id"], limit=1000))


# filter -> the ids of row(i) for i in range(ROWS) it selects
FILTERS = {
    "array_contains(i32, 5)": lambda i: 5 in [i, i + 1, i + 2],
    'array_contains(tags, "t2")': lambda i: i % 3 == 2,
    'ARRAY_CONTAINS_ALL(tags, ["t1", "all"])': lambda i: i % 3 == 1,
    "array_contains_all(i64, [1, 3])": lambda i: i % 5 == 4,
    "array_contains_any(i16, [100, 300, 7])": lambda i: i in (1, 3),
    "array_contains_any(f64, [2.5, 5.0])": lambda i: i in (2, 4),
    "array_contains(bools, false)": lambda i: i % 2 == 1,
    "array_length(i64) == 0": lambda i: i % 5 == 0,
    "ARRAY_LENGTH(i64) > 2 and id < 20": lambda i: i % 5 > 2 and i < 20,
    "i32[0] > 10 and i32[0] < 14": lambda i: 10 < i < 14,
    "i32[2] - i32[0] == 2 and i8[1] <= -25": lambda i: i >= 25,
    'tags[0] == "t2"': lambda i: i % 3 == 2,
    'tags[0] like "t1%"': lambda i: i % 3 == 1,
    "i32[1] in [2, 4]": lambda i: i + 1 in (2, 4),
    "i32 == [1, 2, 3]": lambda i: i == 1,
    "i32 != [1, 2, 3] and id < 4": lambda i: i in (0, 2, 3),
    "bools[0] == true and id < 10": lambda i: i % 2 == 0 and i < 10,
    "f64[0] > 10.0": lambda i: i * 1.25 > 10.0,
    "f32[0] == 3.5": lambda i: i == 3,
    "i32[7] == 1": lambda i: False,  # past the end: no element, no match
    "not array_contains(i32, 0) and extra == 1": lambda i: i != 0 and i % 4 == 1,
    "i64 == [0, 1, 2]": lambda i: i % 5 == 3,
    "i64 in []": lambda i: False,
}


def check_filters(client):
    for expr, want in FILTERS.items():
        assert ids(client, expr) == [i for i in range(ROWS) if want(i)], expr


def check_outputs(client):
    got = client.query(NAME, filter="id < 9", output_fields=ARRAYS + ["extra"])
    assert len(got) == 9
    for r in got:
        want = row(r["id"])
        for field in ARRAYS:
            if field == "f32":
                assert list(r[field]) == pytest.approx(want[field]), field
            else:
                assert list(r[field]) == want[field], field
        assert r["extra"] == want["extra"]


def seal(client, name=NAME):
    client.flush(name)
    client.release_collection(name)
    client.load_collection(name)


def test_arrays_insert_output_filters_growing_and_sealed(client):
    create(client)
    client.insert(NAME, [row(i) for i in range(ROWS)])
    desc = {f["name"]: f for f in client.describe_collection(NAME)["fields"]}
    assert desc["tags"]["type"] == DataType.ARRAY
    assert desc["tags"]["element_type"] == DataType.VARCHAR
    assert int(desc["tags"]["params"]["max_capacity"]) == 5
    assert int(desc["tags"]["params"]["max_length"]) == 8
    check_outputs(client)
    check_filters(client)
    seal(client)  # the rows now come from the segment's Parquet file
    check_outputs(client)
    check_filters(client)

    hits = client.search(NAME, data=[[4.0, 1.0, 0.5, -1.0]], limit=3,
                         filter="array_contains_any(tags, ['t0'])", output_fields=["tags", "i32"])[0]
    assert [h["id"] for h in hits] == [3, 6, 0]
    for h in hits:
        assert h["entity"]["tags"] == row(h["id"])["tags"]
        assert h["entity"]["i32"] == row(h["id"])["i32"]


def test_array_upsert_delete_and_refusals_change_nothing(client):
    create(client)
    client.insert(NAME, [row(i) for i in range(10)])
    seal(client)
    new = dict(row(4), i32=[40, 41], tags=["new"])
    client.upsert(NAME, [new])
    got = client.query(NAME, filter="id == 4", output_fields=["i32", "tags"])[0]
    assert (got["i32"], got["tags"]) == ([40, 41], ["new"])
    assert ids(client, 'array_contains(tags, "new")') == [4]

    client.delete(NAME, filter='array_contains(tags, "t0")')  # 0, 3, 6, 9
    assert ids(client, "id >= 0") == [1, 2, 4, 5, 7, 8]

    bad_rows = [
        (dict(row(20), i32=[1, 2, 3, 4, 5, 6]), "exceeds max capacity"),
        (dict(row(21), tags=["way too long"]), "exceeds max length"),
        (dict(row(22), i8=[1, 300]), "out of range"),
    ]
    for bad, message in bad_rows:
        with pytest.raises(MilvusException, match=message):
            client.insert(NAME, [row(30), bad])
    with pytest.raises((MilvusException, TypeError, ValueError)):
        client.insert(NAME, [dict(row(23), i64=["a", "b"])])  # refused by pymilvus or Quarry
    with pytest.raises(MilvusException):
        client.upsert(NAME, [dict(row(1), f64=[1.0] * 9)])
    assert ids(client, "id >= 0") == [1, 2, 4, 5, 7, 8]
    assert client.query(NAME, filter="id == 1", output_fields=["f64"])[0]["f64"] == row(1)["f64"]

    with pytest.raises(MilvusException, match="group"):
        client.search(NAME, data=[[0.0] * DIM], limit=3, group_by_field="i32")
    for expr in ['i32[0] == "a"', "tags[0] > 1", "i32 > [1]", "i32 in [1, 2]", "i32 == []",
                 'array_contains(i32, "x")', "array_length(id) == 1", 'array_contains(id, 1)',
                 'tags["k"] == 1']:
        with pytest.raises(MilvusException):
            client.query(NAME, filter=expr, output_fields=["id"])


def field_refused(client, name, message, **kwargs):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("a", DataType.ARRAY, **kwargs)
    with pytest.raises(MilvusException, match=message):
        client.create_collection(name, schema=schema)
    assert not client.has_collection(name)


def test_array_schema_refusals(client):
    field_refused(client, "no_cap", "max_capacity", element_type=DataType.INT64)
    field_refused(client, "big_cap", r"\(0, 4096\]", element_type=DataType.INT64, max_capacity=4097)
    field_refused(client, "zero_cap", r"\(0, 4096\]", element_type=DataType.INT64, max_capacity=0)
    field_refused(client, "no_len", "max_length", element_type=DataType.VARCHAR, max_capacity=4)
    field_refused(client, "json_el", "element type", element_type=DataType.JSON, max_capacity=4)
    field_refused(client, "vec_el", "element type", element_type=DataType.FLOAT_VECTOR,
                  max_capacity=4)
    field_refused(client, "key", "(?i)partition key", element_type=DataType.INT64, max_capacity=4,
                  is_partition_key=True)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4,
                     is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    with pytest.raises(MilvusException):
        client.create_collection("pk_array", schema=schema)
    assert not client.has_collection("pk_array")


@pytest.mark.skipif(PYMILVUS < (2, 5), reason="nullable fields came with pymilvus 2.5")
def test_nullable_array(client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("a", DataType.ARRAY, element_type=DataType.INT32, max_capacity=3,
                     nullable=True)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection("nullable", schema=schema, index_params=ip, consistency_level="Strong")
    client.insert("nullable", [{"id": i, "vec": [0.0] * DIM, "a": None if i % 2 else [i]}
                               for i in range(6)])
    for sealed in (False, True):
        if sealed:
            seal(client, "nullable")
        got = {r["id"]: r["a"] for r in client.query("nullable", filter="id >= 0", output_fields=["a"])}
        assert got == {0: [0], 1: None, 2: [2], 3: None, 4: [4], 5: None}
        assert ids(client, "a is null", "nullable") == [1, 3, 5]
        assert ids(client, "array_contains(a, 2) or a[0] == 4", "nullable") == [2, 4]


def test_pymilvus_array_example_flow(server):
    """examples/datatypes/hello_milvus_array.py: the ORM, a pandas DataFrame of numpy scalars,
    an IVF_FLAT index, load and a query with an array output."""
    import numpy as np
    import pandas as pd
    from pymilvus import Collection, CollectionSchema, FieldSchema, connections, utility

    conn = "array_example"
    connections.connect(alias=conn, uri=server.uri)
    try:
        dim, arr_len, nb = 128, 100, 10
        name = "test_array"
        if utility.has_collection(name, using=conn):
            utility.drop_collection(name, using=conn)
        fields = [
            FieldSchema(name="int64", dtype=DataType.INT64, is_primary=True, description="pk"),
            FieldSchema(name="float_vector", dtype=DataType.FLOAT_VECTOR, dim=dim),
        ]
        for field, element in [("int8_array", DataType.INT8), ("int16_array", DataType.INT16),
                               ("int32_array", DataType.INT32), ("int64_array", DataType.INT64),
                               ("bool_array", DataType.BOOL), ("float_array", DataType.FLOAT),
                               ("double_array", DataType.DOUBLE)]:
            fields.append(FieldSchema(name=field, dtype=DataType.ARRAY, element_type=element,
                                      max_capacity=arr_len))
        fields.append(FieldSchema(name="string_array", dtype=DataType.ARRAY,
                                  element_type=DataType.VARCHAR, max_capacity=arr_len,
                                  max_length=100))
        collection = Collection(name, schema=CollectionSchema(fields=fields), using=conn)
        data = pd.DataFrame({
            "int64": list(range(nb)),
            "float_vector": [[random.random() for _ in range(dim)] for _ in range(nb)],
            "int8_array": [[np.int8(j) for j in range(arr_len)] for _ in range(nb)],
            "int16_array": [[np.int16(j) for j in range(arr_len)] for _ in range(nb)],
            "int32_array": [[np.int32(j) for j in range(arr_len)] for _ in range(nb)],
            "int64_array": [[np.int64(j) for j in range(arr_len)] for _ in range(nb)],
            "bool_array": [[np.bool_(j) for j in range(arr_len)] for _ in range(nb)],
            "float_array": [[np.float32(j) for j in range(arr_len)] for _ in range(nb)],
            "double_array": [[np.double(j) for j in range(arr_len)] for _ in range(nb)],
            "string_array": [[str(j) for j in range(arr_len)] for _ in range(nb)],
        })
        collection.insert(data)
        collection.create_index("float_vector", {"index_type": "IVF_FLAT", "metric_type": "L2",
                                                 "params": {"nlist": 128}})
        collection.load()
        res = collection.query("int64 >= 0", output_fields=["int8_array", "string_array"])
        assert len(res) == nb
        for hit in res:
            assert list(hit["int8_array"]) == list(range(arr_len))
            assert list(hit["string_array"]) == [str(j) for j in range(arr_len)]
        assert len(collection.query("array_contains(bool_array, false)", output_fields=["int64"])) == nb
    finally:
        connections.disconnect(conn)
