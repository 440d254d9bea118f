"""The audit log (`--audit-log`): one JSON line per DDL and DCL request, login, refused login
and request refused for want of a privilege, with the real pymilvus client on a standalone
server with authentication on; passing data requests are not recorded; no password is ever
written; roles without a Milvus port refuse the flag."""
import json
import os
import subprocess
import tempfile
import time

import pytest
from pymilvus import MilvusClient, MilvusException

from conftest import BINARY, STORAGE, Server, failed, print_log_tails
from test_auth import ROOT_PASSWORD


@pytest.fixture
def audited(request):
    if STORAGE == "cluster":
        pytest.skip("a standalone server with an audit log")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "audit.log")
        s = Server(d, env={"QUARRY_AUTH": "true", "QUARRY_ROOT_PASSWORD": ROOT_PASSWORD,
                           "QUARRY_AUDIT_LOG": path}).start()
        try:
            yield s, path
        finally:
            s.stop()
            if failed(request):
                print_log_tails(d)


def lines(path, until, timeout=10):
    """The log's events once `until(events)` holds (the writer thread appends them)."""
    deadline = time.time() + timeout
    while True:
        with open(path) as f:
            events = [json.loads(line) for line in f if line.strip()]
        if until(events) or time.time() > deadline:
            return events
        time.sleep(0.1)


def has(events, **want):
    return any(all(e.get(k) == v for k, v in want.items()) for e in events)


def test_ddl_dcl_logins_and_refusals_are_audited(audited):
    server, path = audited
    root = MilvusClient(server.uri, user="root", password=ROOT_PASSWORD)
    root.create_collection("books", dimension=4, consistency_level="Strong")
    root.insert("books", [{"id": i, "vector": [float(i), 0.0, 1.0, 0.5]} for i in range(5)])
    root.create_user("alice", "alice-pw-1")
    root.create_role("reader")
    root.grant_privilege("reader", "Collection", "Query", "books")
    root.grant_role("alice", "reader")
    alice = MilvusClient(server.uri, user="alice", password="alice-pw-1")
    assert len(alice.query("books", filter="id >= 0")) == 5  # granted: not recorded
    with pytest.raises(MilvusException, match="permission deny"):
        alice.search("books", [[1.0, 0.0, 1.0, 0.5]], limit=1)
    # a user of its own: pymilvus 2.5/2.6 share one connection per address and user
    with pytest.raises(Exception):
        MilvusClient(server.uri, user="mallory", password="wrong-pw-9", timeout=5).list_collections()
    root.drop_collection("books")

    events = lines(path, lambda ev: has(ev, rpc="DropCollection"))
    assert has(events, kind="ddl", rpc="CreateCollection", user="root", db="default", object="books", ok=True)
    assert has(events, kind="ddl", rpc="DropCollection", user="root", object="books", ok=True)
    assert has(events, kind="dcl", rpc="CreateCredential", user="root", ok=True)
    assert has(events, kind="dcl", rpc="CreateRole", user="root", ok=True)
    assert has(events, kind="dcl", rpc="OperatePrivilege", user="root", ok=True)
    assert has(events, kind="dcl", rpc="OperateUserRole", user="root", ok=True)
    assert has(events, kind="login", rpc="Connect", user="alice", ok=True)
    assert has(events, kind="denied", rpc="Search", user="alice", object="books", ok=False, code=1401)
    assert has(events, kind="auth", user="mallory", ok=False)
    # passing data requests are not recorded
    assert not any(e["rpc"] in ("Insert", "Query") for e in events), events
    text = open(path).read()
    for secret in (ROOT_PASSWORD, "alice-pw-1", "wrong-pw-9"):
        assert secret not in text
    root.close()
    alice.close()


def test_roles_without_a_milvus_port_refuse_the_audit_log():
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([BINARY, "querynode", "--coordinator", "127.0.0.1:1",
                            "--audit-log", os.path.join(d, "a.log")],
                           capture_output=True, timeout=60)
        assert p.returncode != 0
        assert "the audit log (--audit-log) records the Milvus requests of proxies" in p.stderr.decode()
