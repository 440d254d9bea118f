"""Authentication on the Milvus port, as Milvus does it: with `--auth` every RPC needs the
`authorization` header (pymilvus' user/password or token), a missing or wrong one is gRPC
UNAUTHENTICATED with Milvus' text; users are managed with the credential RPCs. Standalone with
authentication on; the cluster case (a user created through one proxy logs in through the
other) runs with `make e2e-cluster`."""
import base64
import os
import subprocess
import tempfile

import grpc
import pytest
from pymilvus import MilvusClient, connections, utility
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

from conftest import BINARY, STORAGE, Server, failed, print_log_tails

ROOT_PASSWORD = "Quarry-root-1"

@pytest.fixture
def auth_server(request):
    if STORAGE == "cluster":
        pytest.skip("a standalone server with authentication; the cluster case is the last test")
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, env={"QUARRY_AUTH": "true", "QUARRY_ROOT_PASSWORD": ROOT_PASSWORD}).start()
        try:
            yield s
        finally:
            s.stop()
            if failed(request):
                print_log_tails(d)


def try_login(uri, **kw):
    """Connects and makes a call (pymilvus 2.6 may reuse a shared connection without a new
    Connect, so a refusal can come with the first call rather than the constructor)."""
    c = MilvusClient(uri, timeout=10, **kw)
    try:
        c.list_collections()
    finally:
        c.close()


def root(server, **kw):
    return MilvusClient(server.uri, user="root", password=ROOT_PASSWORD, **kw)


def refused(excinfo, text):
    """pymilvus 2.4 raises the gRPC error; 2.6 wraps it (its cause) in a MilvusException."""
    err = excinfo.value
    while not isinstance(err, grpc.RpcError) and err.__cause__ is not None:
        err = err.__cause__
    assert isinstance(err, grpc.RpcError), repr(excinfo.value)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED, err
    assert err.details() == text, err.details()


def test_without_a_root_password_the_server_refuses_to_start():
    with tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if k not in ("QUARRY_ROOT_PASSWORD", "QUARRY_ROOT_PASSWORD_FILE")}
        p = subprocess.run([BINARY, "standalone", "--auth", "--data-dir", d, "--port", "0", "--http-port", "0"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode != 0
        assert "no root password is configured" in p.stderr, p.stderr[-2000:]


def test_every_rpc_without_valid_credentials_is_unauthenticated(auth_server):
    """Every unary method of MilvusService (served or not): no exception, as in Milvus."""
    channel = grpc.insecure_channel(f"127.0.0.1:{auth_server.port}")
    good = base64.b64encode(f"root:{ROOT_PASSWORD}".encode()).decode()
    cases = [
        ([], "missing authorization in header"),
        ([("authorization", base64.b64encode(b"root:wrong-password").decode())],
         "auth check failure, please check username and password are correct"),
        ([("authorization", base64.b64encode(b"nobody:whatever1").decode())],
         "auth check failure, please check username and password are correct"),
        ([("authorization", "not base64!")], "invalid token format"),
        ([("authorization", base64.b64encode(b"an-api-key").decode())],
         "auth check failure, please check api key is correct"),
    ]
    service = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]
    checked = 0
    for m in service.methods:
        if m.client_streaming or m.server_streaming:
            continue
        call = channel.unary_unary(f"/milvus.proto.milvus.MilvusService/{m.name}",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for metadata, text in cases:
            with pytest.raises(grpc.RpcError) as e:
                call(b"", metadata=metadata, timeout=10)
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, (m.name, e.value)
            assert e.value.details() == text, (m.name, e.value.details())
        checked += 1
    assert checked > 50
    # and with credentials the same channel is served
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    r = stub.GetVersion(milvus_pb2.GetVersionRequest(), metadata=[("authorization", good)], timeout=10)
    assert r.status.code == 0 and r.version
    channel.close()


def test_clients_without_or_with_wrong_credentials_cannot_connect(auth_server):
    with pytest.raises(Exception) as e:
        MilvusClient(auth_server.uri, timeout=10)
    refused(e, "missing authorization in header")
    with pytest.raises(Exception) as e:
        MilvusClient(auth_server.uri, user="root", password="wrong-password", timeout=10)
    refused(e, "auth check failure, please check username and password are correct")
    with pytest.raises(Exception) as e:
        MilvusClient(auth_server.uri, token=f"root:{ROOT_PASSWORD}x", timeout=10)
    refused(e, "auth check failure, please check username and password are correct")


def test_user_password_token_and_orm_forms_work(auth_server):
    c = root(auth_server)
    c.create_collection("c", dimension=4)
    c.insert("c", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    assert c.query("c", filter="id == 1", output_fields=["id"], consistency_level="Strong")[0]["id"] == 1
    c.close()
    t = MilvusClient(auth_server.uri, token=f"root:{ROOT_PASSWORD}")
    assert t.list_collections() == ["c"]
    t.close()
    connections.connect("orm", uri=auth_server.uri, user="root", password=ROOT_PASSWORD)
    try:
        assert utility.list_collections(using="orm") == ["c"]
        assert "root" in utility.list_usernames(using="orm")
    finally:
        connections.disconnect("orm")


def test_credential_rpcs(auth_server):
    c = root(auth_server)
    assert c.list_users() == ["root"]
    c.create_user("alice", "alice-pw-1")
    assert sorted(c.list_users()) == ["alice", "root"]

    # Milvus' rules and texts
    with pytest.raises(Exception, match="user already exists: alice"):
        c.create_user("alice", "alice-pw-2")
    with pytest.raises(Exception, match="The length of password must be great than 6 and less than 256 characters"):
        c.create_user("bob", "short")
    with pytest.raises(Exception, match="The first character of username must be a letter"):
        c.create_user("1bob", "bob-pw-1")
    with pytest.raises(Exception, match="root user cannot be deleted"):
        c.drop_user("root")

    # the new user logs in and works
    a = MilvusClient(auth_server.uri, user="alice", password="alice-pw-1")
    assert a.list_collections() == []
    # but is no administrator
    with pytest.raises(Exception, match="permission deny to alice"):
        a.create_user("mallory", "mallory-1")
    with pytest.raises(Exception, match="permission deny to alice"):
        a.drop_user("root")
    with pytest.raises(Exception, match="permission deny to alice"):
        a.update_password("root", ROOT_PASSWORD, "taken-over-1")

    # a wrong old password is refused and changes nothing
    with pytest.raises(Exception, match="old password not correct for alice"):
        a.update_password("alice", "not-her-password", "alice-pw-2")
    a.update_password("alice", "alice-pw-1", "alice-pw-2")
    a.close()
    with pytest.raises(Exception) as e:
        try_login(auth_server.uri, user="alice", password="alice-pw-1")
    refused(e, "auth check failure, please check username and password are correct")
    a = MilvusClient(auth_server.uri, user="alice", password="alice-pw-2")
    assert a.list_collections() == []
    a.close()

    # deleting the user ends its access; deleting it again changes nothing
    c.drop_user("alice")
    c.drop_user("alice")
    assert c.list_users() == ["root"]
    with pytest.raises(Exception) as e:
        try_login(auth_server.uri, user="alice", password="alice-pw-2")
    refused(e, "auth check failure, please check username and password are correct")
    c.close()


def test_root_rotates_its_password_and_users_survive_a_restart(auth_server):
    c = root(auth_server)
    c.create_user("carol", "carol-pw-1")
    c.update_password("root", ROOT_PASSWORD, "Rotated-root-2")
    c.close()
    auth_server.stop()
    auth_server.start()
    # the configured password only seeds root once: the rotated one holds after a restart
    with pytest.raises(Exception) as e:
        try_login(auth_server.uri, user="root", password=ROOT_PASSWORD)
    refused(e, "auth check failure, please check username and password are correct")
    c = MilvusClient(auth_server.uri, user="root", password="Rotated-root-2")
    assert sorted(c.list_users()) == ["carol", "root"]
    c.close()
    k = MilvusClient(auth_server.uri, user="carol", password="carol-pw-1")
    assert k.list_collections() == []
    k.close()


@pytest.mark.skipif(os.environ.get("QUARRY_E2E_CLUSTER") != "1", reason="cluster e2e runs via `make e2e-cluster`")
def test_cluster_proxies_share_users():
    from cluster import Cluster
    with tempfile.TemporaryDirectory() as d:
        cl = Cluster(d, proxies=2, querynodes=1, root_password=ROOT_PASSWORD).start()
        try:
            with pytest.raises(Exception) as e:
                MilvusClient(cl.uri(1), timeout=10)
            refused(e, "missing authorization in header")
            c0 = MilvusClient(cl.uri(0), user="root", password=ROOT_PASSWORD)
            c0.create_user("dave", "dave-pw-1")
            import time
            deadline = time.time() + 20
            while True:  # the other proxy sees the user once its catalog snapshot has it
                try:
                    c1 = MilvusClient(cl.uri(1), user="dave", password="dave-pw-1", timeout=5)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.5)
            assert c1.list_collections() == []
            c0.update_password("dave", "dave-pw-1", "dave-pw-2")
            deadline = time.time() + 20
            while True:  # and stops accepting the old password
                try:
                    try_login(cl.uri(1), user="dave", password="dave-pw-1")
                except Exception:
                    break
                assert time.time() < deadline, "the old password still works on proxy 1"
                time.sleep(0.5)
            c0.close()
            c1.close()
        except Exception:
            print_log_tails(d)
            raise
        finally:
            cl.stop()
