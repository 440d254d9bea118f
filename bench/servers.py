"""The servers a benchmark run compares: Quarry standalone (a release binary) and Milvus
standalone from the `milvus` PyPI package (2.3.5: it ships the server binary and runs offline).
Each is started in its own data directory and stopped afterwards; `pid` is the process whose
resident memory is reported."""
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=180):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {seconds} s")


class Quarry:
    def __init__(self, name, binary, data_dir):
        self.name, self.binary, self.data_dir = name, binary, data_dir

    def __enter__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [self.binary, "standalone", "--data-dir", self.data_dir, "--port", str(self.port),
             "--http-port", str(free_port()), "--listen", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_port(self.port)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


class Milvus:
    def __init__(self, name, data_dir):
        self.name, self.data_dir = name, data_dir

    def __enter__(self):
        from milvus import MilvusServer  # the `milvus` package: only needed for this server
        self.server = MilvusServer()
        self.server.set_base_dir(self.data_dir)
        self.server.start()
        self.port = self.server.listen_port
        self.pid = self.server.server_proc.pid
        wait_port(self.port)
        return self

    def __exit__(self, *exc):
        self.server.stop()


def resident_mb(pid):
    """Resident memory of a process and its children (Milvus runs helpers beside it)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                pids.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return total / 1024
