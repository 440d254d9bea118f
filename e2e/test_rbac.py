"""Roles and grants (Milvus RBAC) with the real pymilvus client on a standalone server with
authentication on: a user without a grant cannot read or write a collection, one with the grant
can; roles, user-role bindings, grants (v1 and the 2.5 v2 form, built-in privilege groups) and
their listings; Milvus' refusals."""
import random

import pytest
from pymilvus import MilvusClient, MilvusException

from test_auth import ROOT_PASSWORD, auth_server  # noqa: F401 (the fixture)


def vec(seed):
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(8)]


@pytest.fixture
def setup(auth_server):
    root = MilvusClient(auth_server.uri, user="root", password=ROOT_PASSWORD)
    root.create_collection("books", dimension=8, consistency_level="Strong")
    root.create_collection("films", dimension=8, consistency_level="Strong")
    root.insert("books", [{"id": i, "vector": vec(i)} for i in range(10)])
    root.insert("films", [{"id": i, "vector": vec(i)} for i in range(10)])
    root.create_user("alice", "alice-pw-1")
    alice = MilvusClient(auth_server.uri, user="alice", password="alice-pw-1")
    yield root, alice
    alice.close()
    root.close()


def denied(fn, *args, **kwargs):
    with pytest.raises(MilvusException, match="permission deny to alice"):
        fn(*args, **kwargs)


def test_a_user_needs_a_grant_to_read_or_write(setup):
    root, alice = setup
    denied(alice.search, "books", [vec(1)], limit=1)
    denied(alice.query, "books", filter="id >= 0")
    denied(alice.insert, "books", [{"id": 100, "vector": vec(100)}])
    denied(alice.drop_collection, "books")
    denied(alice.create_collection, "mine", dimension=8)

    root.create_role("reader")
    root.grant_privilege("reader", "Collection", "Search", "books")
    root.grant_privilege("reader", "Collection", "Query", "books")
    root.grant_role("alice", "reader")
    assert alice.search("books", [vec(1)], limit=1)[0][0]["id"] == 1
    assert len(alice.query("books", filter="id >= 0")) == 10
    # only what was granted, only on that collection
    denied(alice.search, "films", [vec(1)], limit=1)
    denied(alice.insert, "books", [{"id": 100, "vector": vec(100)}])

    root.grant_privilege("reader", "Collection", "Insert", "*")
    alice.insert("books", [{"id": 100, "vector": vec(100)}])
    alice.insert("films", [{"id": 100, "vector": vec(100)}])

    # revoking takes effect at once
    root.revoke_privilege("reader", "Collection", "Search", "books")
    denied(alice.search, "books", [vec(1)], limit=1)
    root.revoke_role("alice", "reader")
    denied(alice.query, "books", filter="id >= 0")


def test_admin_role_and_global_grants(setup):
    root, alice = setup
    root.grant_role("alice", "admin")
    alice.create_collection("mine", dimension=8)
    alice.create_user("bob", "bob-pw-12")
    alice.drop_collection("films")
    root.revoke_role("alice", "admin")
    denied(alice.create_collection, "other", dimension=8)
    root.create_role("creator")
    root.grant_privilege("creator", "Global", "CreateCollection", "*")
    root.grant_role("alice", "creator")
    # the quick setup also builds an index, loads and waits for the load: four privileges
    denied(alice.create_collection, "other", dimension=8)
    root.grant_privilege("creator", "Collection", "CreateIndex", "*")
    root.grant_privilege("creator", "Collection", "Load", "*")
    root.grant_privilege("creator", "Collection", "GetLoadState", "*")
    root.drop_collection("other")  # the collection was made before CreateIndex was refused
    denied(alice.drop_collection, "books")
    alice.create_collection("other", dimension=8)
    denied(alice.drop_collection, "other")


def test_roles_and_grants_are_listed(setup):
    root, alice = setup
    assert set(root.list_roles()) >= {"admin", "public"}
    root.create_role("reader")
    root.grant_privilege("reader", "Collection", "Search", "books")
    root.grant_role("alice", "reader")
    assert "reader" in root.list_roles()
    assert list(root.describe_user("alice")["roles"]) == ["reader"]
    # an unknown user is an empty answer, as in Milvus (examples/rbac.py relies on it)
    assert not root.describe_user("nobody")
    privileges = root.describe_role("reader")["privileges"]
    assert len(privileges) == 1
    p = privileges[0]
    assert (p["object_type"], p["object_name"], p["privilege"], p["db_name"]) == \
        ("Collection", "books", "Search", "default")
    assert p["grantor_name"] == "root"
    # a user may describe themself, not others
    assert list(alice.describe_user("alice")["roles"]) == ["reader"]
    denied(alice.describe_user, "root")
    denied(alice.create_role, "mine")


def test_role_refusals(setup):
    root, _ = setup
    root.create_role("reader")
    for bad in ["reader", "admin", "public", "1bad", ""]:
        with pytest.raises(MilvusException):
            root.create_role(bad)
    with pytest.raises(MilvusException):
        root.grant_role("alice", "nope")
    with pytest.raises(MilvusException):
        root.grant_role("nobody", "reader")
    with pytest.raises(MilvusException, match="privilege name"):
        root.grant_privilege("reader", "Collection", "CreateDatabase", "books")
    with pytest.raises(MilvusException, match="object type"):
        root.grant_privilege("reader", "Table", "Search", "books")
    with pytest.raises(MilvusException):
        root.drop_role("admin")
    root.grant_privilege("reader", "Collection", "Search", "books")
    # a role with grants is not dropped unless forced (2.5+) or revoked first
    with pytest.raises(MilvusException, match="REVOKE"):
        root.drop_role("reader")
    root.revoke_privilege("reader", "Collection", "Search", "books")
    root.drop_role("reader")
    assert "reader" not in root.list_roles()


def test_grant_v2_with_privilege_groups(setup):
    root, alice = setup
    if not hasattr(root, "grant_privilege_v2"):
        pytest.skip("grant_privilege_v2 is pymilvus 2.5+")
    root.create_role("rw")
    root.grant_role("alice", "rw")
    root.grant_privilege_v2("rw", "CollectionReadWrite", "books", db_name="default")
    alice.insert("books", [{"id": 200, "vector": vec(200)}])
    assert alice.query("books", filter="id == 200")[0]["id"] == 200
    denied(alice.query, "films", filter="id >= 0")
    denied(alice.drop_collection, "books")
    root.revoke_privilege_v2("rw", "CollectionReadWrite", "books", db_name="default")
    denied(alice.query, "books", filter="id >= 0")
    if "force_drop" in root.drop_role.__code__.co_varnames:
        root.grant_privilege_v2("rw", "Search", "*", db_name="default")
        root.drop_role("rw", force_drop=True)
        assert "rw" not in root.list_roles()


def test_custom_privilege_groups(setup):
    root, alice = setup
    if not hasattr(root, "create_privilege_group"):
        pytest.skip("privilege groups are pymilvus 2.5+")
    root.create_privilege_group("readers")
    root.add_privileges_to_group("readers", ["Search", "Query"])
    root.add_privileges_to_group("readers", ["Query", "CollectionReadOnly"])  # a set
    groups = {g["privilege_group"]: set(g["privileges"]) for g in root.list_privilege_groups()}
    assert groups["readers"] == {"Search", "Query", "CollectionReadOnly"}
    assert "Search" in groups["CollectionReadOnly"]  # the built-in groups are listed too

    root.create_role("grp")
    root.grant_role("alice", "grp")
    denied(alice.query, "books", filter="id >= 0")
    root.grant_privilege_v2("grp", "readers", "books", db_name="default")
    assert len(alice.query("books", filter="id >= 0")) == 10
    assert alice.search("books", [vec(1)], limit=1)[0][0]["id"] == 1
    denied(alice.query, "films", filter="id >= 0")  # granted on books only
    denied(alice.insert, "books", [{"id": 300, "vector": vec(300)}])
    grants = root.describe_role("grp")["privileges"]
    assert [(g["privilege"], g["object_name"]) for g in grants] == [("readers", "books")]

    # the group as it is now: adding and removing privileges changes the grant at once
    root.add_privileges_to_group("readers", ["Insert"])
    alice.insert("books", [{"id": 300, "vector": vec(300)}])
    root.remove_privileges_from_group("readers", ["Query", "CollectionReadOnly"])
    denied(alice.query, "books", filter="id >= 0")
    assert alice.search("books", [vec(1)], limit=1)[0][0]["id"] == 1

    # Milvus' refusals, each changing nothing
    for bad in ["readers", "Search", "ClusterReadOnly", "1abc", "a-b"]:
        with pytest.raises(MilvusException):
            root.create_privilege_group(bad)
    with pytest.raises(MilvusException, match="no privilege name or privilege group name"):
        root.add_privileges_to_group("readers", ["Fly"])
    with pytest.raises(MilvusException, match="not the same privilege level"):
        root.add_privileges_to_group("readers", ["CreateDatabase"])
    with pytest.raises(MilvusException, match="no privilege group name"):
        root.add_privileges_to_group("nope", ["Search"])
    with pytest.raises(MilvusException, match="custom privilege group"):
        root.grant_privilege("grp", "Global", "readers", "*")
    with pytest.raises(MilvusException, match="used by role"):
        root.drop_privilege_group("readers")
    groups = {g["privilege_group"]: set(g["privileges"]) for g in root.list_privilege_groups()}
    assert groups["readers"] == {"Search", "Insert"}

    # alice cannot manage groups without the privilege
    with pytest.raises(MilvusException, match="permission deny to alice"):
        alice.create_privilege_group("mine")

    root.revoke_privilege_v2("grp", "readers", "books", db_name="default")
    denied(alice.search, "books", [vec(1)], limit=1)
    root.drop_privilege_group("readers")
    root.drop_privilege_group("readers")  # gone already: nothing to do, as in Milvus
    assert "readers" not in {g["privilege_group"] for g in root.list_privilege_groups()}


def test_list_collections_shows_what_the_roles_name(setup):
    root, alice = setup
    assert sorted(root.list_collections()) == ["books", "films"]
    assert alice.list_collections() == []  # no grant names a collection
    root.create_role("lister")
    root.grant_role("alice", "lister")
    root.grant_privilege("lister", "Collection", "Query", "books")
    assert alice.list_collections() == ["books"]
    root.grant_privilege("lister", "Collection", "Insert", "*")
    assert sorted(alice.list_collections()) == ["books", "films"]
    root.revoke_privilege("lister", "Collection", "Insert", "*")
    assert alice.list_collections() == ["books"]
    root.grant_role("alice", "admin")
    assert sorted(alice.list_collections()) == ["books", "films"]
