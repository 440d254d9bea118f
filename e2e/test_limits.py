"""Request bounds (dataplane/types/src/limits.rs), driven by the real pymilvus client and, where
pymilvus cannot build the request, by its generated gRPC stubs. Each oversized request must get
a clear Milvus-style error within a second, change nothing, leave the server serving, and not
make the server's memory jump."""
import os
import random
import struct
import time

import grpc
import pytest
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

DIM = 4
ROWS = 50
MAX_TOPK = 16384
MAX_NQ = 16384
# how much the server's resident memory may grow over one refused request
RSS_SLACK_KB = 64 * 1024


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


def rss_kb(server):
    """The server's resident memory (standalone only; a cluster has many processes)."""
    proc = getattr(server, "proc", None)
    if proc is None:
        return None
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.fixture
def lim(server, client):
    """A loaded collection `lim` with an HNSW index, auto ids and ROWS rows."""
    s = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("meta", DataType.JSON)
    client.create_collection("lim", schema=s, consistency_level="Strong")
    client.insert("lim", [{"v": vec(i), "meta": {"i": i}, "n": i} for i in range(ROWS)])
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
    client.create_index("lim", ip)
    client.load_collection("lim")
    return client


def rows(client):
    return client.query("lim", filter="", output_fields=["count(*)"])[0]["count(*)"]


def refused(server, client, call, *expected, any_of=()):
    """Runs `call`, which must fail with a message holding every `expected` substring (and one
    of `any_of`, when given) within a second; then the server must still answer, hold the same
    rows and not have grown."""
    before = rss_kb(server)
    start = time.time()
    with pytest.raises(MilvusException) as info:
        call()
    elapsed = time.time() - start
    msg = str(info.value)
    for want in expected:
        assert want in msg, f"{want!r} not in {msg!r}"
    if any_of:
        assert any(w in msg for w in any_of), f"none of {any_of!r} in {msg!r}"
    assert elapsed < 1.0, f"refusing took {elapsed:.2f} s: {msg}"
    # the next request is served and nothing changed
    assert rows(client) == ROWS
    after = rss_kb(server)
    if before is not None and after is not None:
        assert after - before < RSS_SLACK_KB, f"server RSS grew from {before} kB to {after} kB"
    return msg


def stub(server):
    channel = grpc.insecure_channel(server.uri.replace("http://", ""),
                                    options=[("grpc.max_send_message_length", -1),
                                             ("grpc.max_receive_message_length", -1)])
    return channel, milvus_pb2_grpc.MilvusServiceStub(channel)


def raise_status(status):
    """Raises what pymilvus raises for a non-zero in-band status."""
    if status.code != 0 or status.error_code != 0:
        raise MilvusException(code=status.code or status.error_code, message=status.reason)


def placeholder(vectors):
    return common_pb2.PlaceholderGroup(placeholders=[common_pb2.PlaceholderValue(
        tag="$0", type=common_pb2.PlaceholderType.FloatVector,
        values=[struct.pack(f"<{DIM}f", *v) for v in vectors])]).SerializeToString()


def raw_search(server, params, vectors=None):
    channel, s = stub(server)
    try:
        req = milvus_pb2.SearchRequest(
            collection_name="lim", dsl="", dsl_type=common_pb2.DslType.BoolExprV1,
            placeholder_group=placeholder(vectors or [vec(1)]), nq=len(vectors or [1]),
            search_params=[common_pb2.KeyValuePair(key=k, value=v) for k, v in params.items()])
        raise_status(s.Search(req, timeout=10).status)
    finally:
        channel.close()


def vector_field(n):
    return schema_pb2.FieldData(
        type=schema_pb2.DataType.FloatVector, field_name="v",
        vectors=schema_pb2.VectorField(dim=DIM, float_vector=schema_pb2.FloatArray(
            data=[x for i in range(n) for x in vec(i)])))


def raw_insert(server, num_rows, upsert=False):
    channel, s = stub(server)
    try:
        fields = [vector_field(1)]
        if upsert:
            fields.append(schema_pb2.FieldData(
                type=schema_pb2.DataType.Int64, field_name="id",
                scalars=schema_pb2.ScalarField(long_data=schema_pb2.LongArray(data=[1]))))
            req = milvus_pb2.UpsertRequest(collection_name="lim", fields_data=fields, num_rows=num_rows)
            raise_status(s.Upsert(req, timeout=10).status)
        else:
            req = milvus_pb2.InsertRequest(collection_name="lim", fields_data=fields, num_rows=num_rows)
            raise_status(s.Insert(req, timeout=10).status)
    finally:
        channel.close()


# --- search and query windows ---------------------------------------------------------------

def test_nq_over_the_bound(server, lim):
    queries = [vec(i) for i in range(MAX_NQ + 1)]
    refused(server, lim, lambda: lim.search("lim", queries, limit=1),
            "nq (number of search vector per search request) should be in range [1, 16384], but got 16385")


def test_search_limit_plus_offset_over_the_bound(server, lim):
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=MAX_TOPK + 1), "topk [16385] is invalid")
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=16000, offset=385),
            "offset+topk [16385] is invalid, it should be in range [1, 16384]")
    # at the bound it is served
    assert len(lim.search("lim", [vec(1)], limit=16000, offset=384)[0]) == 0


def test_search_topk_2_63_with_offset_does_not_overflow(server, lim):
    refused(server, lim, lambda: raw_search(server, {"topk": str(2**63), "offset": "1"}),
            f"topk [{2**63}] is invalid")
    refused(server, lim, lambda: raw_search(server, {"topk": "1", "offset": str(2**64 - 1)}),
            "offset+topk [18446744073709551616] is invalid")
    refused(server, lim, lambda: raw_search(server, {"topk": "-5"}), "topk [-5] is invalid")
    refused(server, lim, lambda: raw_search(server, {"topk": "ten"}), "topk [ten] is invalid")
    refused(server, lim, lambda: raw_search(server, {"topk": "3", "round_decimal": "1000"}),
            "round_decimal [1000] is invalid")


def test_query_limit_plus_offset_over_the_bound(server, lim):
    refused(server, lim, lambda: lim.query("lim", filter="id >= 0", limit=16000, offset=385),
            "(offset+limit) should be in range [1, 16384], but got 16385")
    refused(server, lim, lambda: lim.query("lim", filter="id >= 0", limit=2**63, offset=1),
            "(offset+limit) should be in range [1, 16384]")
    assert len(lim.query("lim", filter="id >= 0", limit=16000, offset=384)) == 0


def test_ef_out_of_range(server, lim):
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=5, search_params={"params": {"ef": 10**9}}),
            "ef(1000000000) is out of range")
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=50, search_params={"params": {"ef": 10}}),
            "ef(10) should be larger than k(50)")
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=5, search_params={"params": {"ef": -1}}),
            "ef [-1] is invalid")
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=5, search_params={"params": {"ef": "lots"}}),
            "ef [lots] is invalid")
    assert len(lim.search("lim", [vec(1)], limit=5, search_params={"params": {"ef": 32768}})[0]) == 5


# --- writes ---------------------------------------------------------------------------------

def test_insert_claiming_2_32_rows_with_one_row_allocates_nothing(server, lim):
    # num_rows is a uint32 on the wire: 2^32 - 1 is the largest claim a client can make
    refused(server, lim, lambda: raw_insert(server, 2**32 - 1), "the number of rows (4294967295)",
            "exceeds the maximum of 1048576")
    refused(server, lim, lambda: raw_insert(server, 1000),
            "the num_rows (1) of field (v) is not equal to passed num_rows (1000)")
    refused(server, lim, lambda: raw_insert(server, 2**32 - 1, upsert=True), "the number of rows (4294967295)")
    # nothing was written by the refused requests, and the next insert works
    assert lim.insert("lim", [{"v": vec(7), "meta": {}}])["insert_count"] == 1
    assert rows(lim) == ROWS + 1


def test_json_value_over_the_bound(server, lim):
    big = {"k": "x" * 70_000}
    refused(server, lim, lambda: lim.insert("lim", [{"v": vec(1), "meta": big}]),
            "exceeds max length (65536)")
    refused(server, lim, lambda: lim.insert("lim", [{"v": vec(1), "meta": {}, "dyn": "y" * 70_000}]),
            "exceeds max length (65536)")


# --- names, fields, collections ---------------------------------------------------------------

def test_schema_bounds(server, lim):
    refused(server, lim, lambda: lim.create_collection("c" * 256, dimension=DIM),
            "must be less than 255 characters")
    s = MilvusClient.create_schema(auto_id=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    for i in range(63):
        s.add_field(f"f{i}", DataType.INT64)
    refused(server, lim, lambda: lim.create_collection("wide", schema=s),
            "maximum field's number should be limited to 64")
    # 64 fields of the user's and the dynamic field, as Milvus allows
    s = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    for i in range(62):
        s.add_field(f"f{i}", DataType.INT64)
    lim.create_collection("widest", schema=s)
    lim.drop_collection("widest")
    s = MilvusClient.create_schema(auto_id=True, description="d" * 70_000)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    refused(server, lim, lambda: lim.create_collection("described", schema=s), "exceeding the maximum of 65536")
    assert lim.list_collections() == ["lim"]


def test_collection_property_quarry_does_not_serve(server, lim):
    # refused, not stored and ignored: compaction would otherwise run all the same
    refused(server, lim, lambda: lim.create_collection("noauto", dimension=DIM,
                                                       properties={"collection.autocompaction.enabled": False}),
            "collection.autocompaction.enabled", "not supported")
    # a time to live that is no whole number of seconds
    refused(server, lim, lambda: lim.create_collection("ttl", dimension=DIM, properties={"collection.ttl.seconds": "soon"}),
            "collection TTL", "not a valid positive integer")
    assert lim.list_collections() == ["lim"]
    # a client's own annotation is kept
    lim.create_collection("annotated", dimension=DIM, properties={"team": "search"})
    assert dict(lim.describe_collection("annotated").get("properties", {})).get("team") == "search"
    lim.drop_collection("annotated")


def test_output_fields(server, lim):
    # duplicates are one field
    hits = lim.search("lim", [vec(1)], limit=2, output_fields=["meta"] * 100)
    assert len(hits[0]) == 2
    got = lim.query("lim", filter="id >= 0", limit=2, output_fields=["id"] * 100)
    assert len(got) == 2 and set(got[0]) == {"id"}
    refused(server, lim, lambda: lim.query("lim", filter="id >= 0", limit=2, output_fields=["id"] * 300),
            "the number of output fields (300) exceeds the maximum of 256")
    refused(server, lim, lambda: lim.search("lim", [vec(1)], limit=2, output_fields=[f"k{i}" for i in range(257)]),
            "the number of output fields (257) exceeds the maximum of 256")


def test_replica_number_in_standalone(server, lim):
    if getattr(server, "proc", None) is None:
        pytest.skip("standalone only: a cluster serves several replicas")
    refused(server, lim, lambda: lim.load_collection("lim", replica_number=2), "not supported in standalone mode")
    refused(server, lim, lambda: lim.load_collection("lim", replica_number=10**6), "not supported in standalone mode")


# --- filter expressions (bounded by the expr crate) ---------------------------------------------

def test_filter_with_non_ascii_operator(server, lim):
    refused(server, lim, lambda: lim.query("lim", filter="id ≥ 1", limit=1),
            any_of=("≥", "ASCII", "character", "unexpected"))


def test_filter_nested_10000_deep(server, lim):
    expr = "(" * 10_000 + "id > 0" + ")" * 10_000
    refused(server, lim, lambda: lim.query("lim", filter=expr, limit=1), any_of=("depth", "nest"))


def test_filter_or_chain_of_100000_terms(server, lim):
    expr = " or ".join(f"id == {i}" for i in range(100_000))
    refused(server, lim, lambda: lim.query("lim", filter=expr, limit=1),
            any_of=("terms", "too long", "exceeds", "bytes"))


def test_filter_nested_empty_list(server, lim):
    refused(server, lim, lambda: lim.query("lim", filter="id in [[]]", limit=1),
            any_of=("list", "invalid", "unsupported", "not supported"))
