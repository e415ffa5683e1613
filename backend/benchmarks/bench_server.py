"""`skillpulse serve` under load: requests/s, p50 and p99 at 1, 10 and 50 keep-alive connections.

    python backend/benchmarks/bench_server.py              # 20,000 postings, 5 s per measurement
    python backend/benchmarks/bench_server.py --quick      # small, for a smoke check

The server runs as the real CLI in its own process; the clients are threads here, each holding
one keep-alive connection and sending the next request as soon as the answer is in. Also shown:
how long a normal request takes while 500 idle connections are open.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import build_large_db  # noqa: E402

PATHS = {"/api/health": "/api/health",
         "/api/skills": "/api/skills?location=United%20States&role=any&level=entry&days=30&top=5"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes]:
    """Read one response; returns (status, leftover bytes)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, rest[length:]


def client(port: int, path: str, until: float, latencies: list[float], errors: list[int]) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        buffer = b""
        while time.perf_counter() < until:
            start = time.perf_counter()
            sock.sendall(request)
            status, buffer = read_response(sock, buffer)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(status)


def measure(port: int, path: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    until = time.perf_counter() + seconds
    latencies: list[float] = []
    errors: list[int] = []
    threads = [threading.Thread(target=client, args=(port, path, until, latencies, errors))
               for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000, len(errors)


def with_idle_connections(port: int, idle: int) -> float:
    """Seconds for one /api/health while `idle` connections sit open without sending a thing."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    try:
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _ = read_response(sock, b"")
        assert status == 200, status
        return time.perf_counter() - start
    finally:
        for sock in sockets:
            sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 postings and 1 s per measurement")
    args = parser.parse_args()
    postings, seconds = (2000, 1.0) if args.quick else (20000, 5.0)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "serve.db"
        build_large_db(db, postings)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "skillpulse_ingest", "serve", "--db", str(db),
                                   "--port", str(port), "-q"], stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            print(f"skillpulse serve on {postings:,} postings, {seconds:g} s per row, keep-alive clients")
            print(f"{'endpoint':<14} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for name, path in PATHS.items():
                for connections in (1, 10, 50):
                    rate, p50, p99, errors = measure(port, path, connections, seconds)
                    print(f"{name:<14} {connections:>5} {rate:>8.0f} {p50:>8.1f} {p99:>8.1f} {errors:>6}")
            idle = 100 if args.quick else 500
            print(f"/api/health with {idle} idle connections open: {with_idle_connections(port, idle) * 1000:.1f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
