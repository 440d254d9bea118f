"""TLS on the Milvus port, with pymilvus' own options: one-way TLS (`secure=True`,
`server_pem_path`, `server_name`) and mutual TLS (`client_pem_path`, `client_key_path`,
`ca_pem_path`). Plaintext clients, clients that do not trust the server's CA, and (mutual) clients
without a certificate of the configured CA are refused; a bad certificate or key stops the server
at start. Certificates are made per test module by the `openssl` command. The cluster case (a TLS
proxy in front of plaintext internal ports) runs with `make e2e-cluster`."""
import os
import subprocess
import tempfile

import pytest
from pymilvus import MilvusClient

from conftest import BINARY, STORAGE, Server, failed, print_log_tails

DIM = 4


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=d)


def make_leaf(d, ca, name, usage, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"extendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n")
        if san:
            f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)


@pytest.fixture(scope="module")
def certs():
    with tempfile.TemporaryDirectory() as d:
        make_ca(d, "ca")
        make_ca(d, "other-ca")
        make_leaf(d, "ca", "server", "serverAuth", san="DNS:localhost,IP:127.0.0.1")
        make_leaf(d, "ca", "client", "clientAuth")
        make_leaf(d, "other-ca", "stranger", "clientAuth")
        yield {n: os.path.join(d, n) for n in os.listdir(d)}


def tls_env(certs, mutual=False):
    env = {"QUARRY_TLS_CERT": certs["server.pem"], "QUARRY_TLS_KEY": certs["server.key"]}
    if mutual:
        env["QUARRY_TLS_CLIENT_CA"] = certs["ca.pem"]
    return env


@pytest.fixture
def tls_server(request, certs):
    if STORAGE == "cluster":
        pytest.skip("a standalone server with TLS; the cluster case is the last test")
    mutual = getattr(request, "param", False)
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, env=tls_env(certs, mutual)).start()
        try:
            yield s
        finally:
            s.stop()
            if failed(request):
                print_log_tails(d)


def https(server):
    return server.uri.replace("http://", "https://")


def round_trip(client):
    """A write and a read over the connection."""
    client.create_collection("tls_docs", dimension=DIM)
    client.insert("tls_docs", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.5]} for i in range(10)])
    hits = client.search("tls_docs", data=[[3.0, 1.0, 0.0, 0.5]], limit=3, consistency_level="Strong")
    assert len(hits[0]) == 3
    assert client.query("tls_docs", filter="id < 5", output_fields=["id"], consistency_level="Strong")
    client.drop_collection("tls_docs")


def assert_refused(uri, **kw):
    """The connection fails (the handshake, or pymilvus' wait for a ready channel)."""
    with pytest.raises(Exception) as e:
        c = MilvusClient(uri, timeout=5, **kw)
        try:
            c.list_collections()
        finally:
            c.close()
    # pymilvus' words for a channel that never became ready (2.4: "Fail connecting to server";
    # 2.6 adds the gRPC cause), not a refusal of the options themselves
    assert "onnect" in str(e.value) or "UNAVAILABLE" in str(e.value), repr(e.value)


def test_one_way_tls_serves_pymilvus_and_refuses_plaintext(tls_server, certs):
    # refusals first: pymilvus 2.6 shares one connection per address, so a client made after a
    # working one could ride on its channel
    assert_refused(tls_server.uri)  # plaintext
    # a client that trusts another CA does not accept the server
    assert_refused(https(tls_server), secure=True, server_pem_path=certs["other-ca.pem"], server_name="localhost")
    c = MilvusClient(https(tls_server), secure=True, server_pem_path=certs["ca.pem"], server_name="localhost")
    round_trip(c)
    c.close()


@pytest.mark.parametrize("tls_server", [True], indirect=True)
def test_mutual_tls_needs_a_client_certificate_of_the_ca(tls_server, certs):
    assert_refused(tls_server.uri)
    # one-way TLS: no client certificate
    assert_refused(https(tls_server), secure=True, server_pem_path=certs["ca.pem"], server_name="localhost")
    # a certificate of another CA
    assert_refused(https(tls_server), secure=True, client_pem_path=certs["stranger.pem"],
                   client_key_path=certs["stranger.key"], ca_pem_path=certs["ca.pem"], server_name="localhost")
    c = MilvusClient(https(tls_server), secure=True, client_pem_path=certs["client.pem"],
                     client_key_path=certs["client.key"], ca_pem_path=certs["ca.pem"], server_name="localhost")
    round_trip(c)
    c.close()


def start_fails(env, args=()):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([BINARY, "standalone", "--data-dir", os.path.join(d, "data"), "--port", "0",
                            "--http-port", "0", "--listen", "127.0.0.1", *args],
                           env={**os.environ, **env}, capture_output=True, timeout=60)
        assert p.returncode != 0
        return p.stderr.decode() + p.stdout.decode()


def test_bad_tls_settings_stop_the_start(certs):
    if STORAGE == "cluster":
        pytest.skip("standalone flags")
    out = start_fails({"QUARRY_TLS_CERT": certs["server.pem"], "QUARRY_TLS_KEY": "/nonexistent/tls.key"})
    assert "reading the TLS key /nonexistent/tls.key" in out, out
    # a key that is not the certificate's
    out = start_fails({"QUARRY_TLS_CERT": certs["server.pem"], "QUARRY_TLS_KEY": certs["client.key"]})
    assert "TLS certificate or key" in out, out
    # a certificate without its key
    out = start_fails({"QUARRY_TLS_CERT": certs["server.pem"]})
    assert "--tls-key" in out, out
    # a query node serves no Milvus port: TLS settings there are refused, not ignored
    p = subprocess.run([BINARY, "querynode", "--coordinator", "127.0.0.1:1"],
                       env={**os.environ, **tls_env(certs)}, capture_output=True, timeout=60)
    assert p.returncode != 0
    assert "TLS (--tls-cert) is for the Milvus port of proxies" in p.stderr.decode(), p.stderr.decode()


@pytest.mark.skipif(os.environ.get("QUARRY_E2E_CLUSTER") != "1", reason="cluster e2e runs via `make e2e-cluster`")
def test_cluster_proxy_serves_tls(certs):
    from cluster import Cluster
    with tempfile.TemporaryDirectory() as d:
        cl = Cluster(d, proxies=1, querynodes=1, proxy_env=tls_env(certs, mutual=True)).start()
        try:
            uri = cl.uri(0)
            assert_refused(uri)
            c = MilvusClient(uri.replace("http://", "https://"), secure=True, client_pem_path=certs["client.pem"],
                             client_key_path=certs["client.key"], ca_pem_path=certs["ca.pem"],
                             server_name="localhost")
            round_trip(c)
            c.close()
        except Exception:
            print_log_tails(d)
            raise
        finally:
            cl.stop()


def start_moto_tls(d, certs):
    """A moto S3 server speaking HTTPS with the test CA's server certificate."""
    import socket
    import time
    from conftest import free_port, log_tail
    moto = os.environ.get("MOTO") or os.path.expanduser("~/.cache/quarry/venv-moto/bin/moto_server")
    port = free_port()
    log = open(os.path.join(d, "moto-tls.log"), "ab")
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port), "-c", certs["server.pem"],
                             "-k", certs["server.key"]], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("moto exited early:\n" + log_tail(os.path.join(d, "moto-tls.log")))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto did not listen")


@pytest.mark.skipif(STORAGE != "remote", reason="runs with the Kafka + S3 e2e (`make e2e-remote`), where moto is installed")
def test_s3_over_tls_with_a_private_ca(certs):
    with tempfile.TemporaryDirectory() as d:
        moto, port = start_moto_tls(d, certs)
        try:
            s3 = {"QUARRY_S3_BUCKET": "tls-bucket", "QUARRY_S3_ENDPOINT": f"https://localhost:{port}",
                  "QUARRY_S3_PATH_STYLE": "true", "QUARRY_S3_CREATE_BUCKET": "true"}
            # the store's certificate is not trusted without the CA: the start fails
            bad = Server(d, env={**s3, "QUARRY_S3_PREFIX": "untrusted"})
            bad.storage = []
            with pytest.raises(RuntimeError, match="exited early") as e:
                bad.start()
            bad.stop()
            with open(os.path.join(d, "server.log"), "rb") as f:
                assert b"UnknownIssuer" in f.read(), str(e.value)
            env = {**s3, "QUARRY_S3_CA_FILE": certs["ca.pem"], "QUARRY_S3_PREFIX": "trusted"}
            server = Server(d, env=env)
            server.storage = []  # the embedded log; objects on the TLS store only
            server.start()
            try:
                c = MilvusClient(server.uri)
                c.create_collection("s3tls", dimension=DIM)
                c.insert("s3tls", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.5]} for i in range(20)])
                c.flush("s3tls")  # a sealed segment written to the TLS store
                c.close()
            finally:
                server.stop()
            server.start()  # the catalog and the segment read back over TLS
            try:
                c = MilvusClient(server.uri)
                c.load_collection("s3tls")
                rows = c.query("s3tls", filter="id >= 0", output_fields=["id"], consistency_level="Strong")
                assert sorted(r["id"] for r in rows) == list(range(20))
                c.close()
            finally:
                server.stop()
            with open(os.path.join(d, "moto-tls.log"), "rb") as f:
                assert b"PUT /tls-bucket/trusted" in f.read(), "the objects went to the TLS store"
        finally:
            moto.kill()
            moto.wait()
