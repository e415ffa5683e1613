"""What a hostile or broken client can make `serve` do: bounded, answered in JSON, never desynchronized."""

import json
import socket
import threading
import time

import pytest
import requests

from conftest import write_sqlite
from e2e.test_serve import fill
from skillpulse_ingest import server as server_module
from skillpulse_ingest.server import make_server

ORIGIN = "http://localhost:5173"


def start(db):
    httpd = make_server(db, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def served(db):
    fill(db)
    httpd = start(db)
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def read_all(sock) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def responses_in(data: bytes) -> list[tuple[int, dict, dict | None]]:
    """(status, headers, JSON body) of each response in a byte stream."""
    found = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers["Content-Length"])
        body, data = data[:length], data[length:]
        found.append((int(lines[0].split(" ")[1]), headers, json.loads(body) if body else None))
    return found


def exchange(port, raw: bytes) -> list[tuple[int, dict, dict | None]]:
    with connect(port) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        return responses_in(read_all(sock))


def test_keep_alive_and_pipelined_requests_each_get_one_answer(served):
    answers = exchange(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /api/locations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [status for status, _, _ in answers] == [200, 200]
    assert answers[0][2]["status"] == "ok" and "locations" in answers[1][2]
    assert answers[0][1]["Server"] == "skillpulse"  # no Python version for a scanner to read


def test_a_body_is_never_read_as_a_second_request(served):
    hidden = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
    answers = exchange(served, b"POST /api/skills HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(hidden)
                       + hidden)
    assert len(answers) == 1 and answers[0][0] == 413
    chunked = exchange(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"0\r\n\r\n" + hidden)
    assert [status for status, _, _ in chunked] == [413]


@pytest.mark.parametrize("raw,status", [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET /api/health HTTP/2.0\r\n\r\n", 505),
    (b"GET /api/health?x=" + b"a" * 40_000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /api/health HTTP/1.1\r\nOrigin: " + ORIGIN.encode() + b"\r\n" + b"X-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
    (b"GET /api/health HTTP/1.1\r\nOrigin: " + ORIGIN.encode() + b"\r\nBad Header: x\r\n\r\n", 400),
    (b"GET /api/health HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", 400),
    (b"DELETE /api/health HTTP/1.1\r\nOrigin: " + ORIGIN.encode() + b"\r\n\r\n", 405),
])
def test_every_error_is_json(served, raw, status):
    [(got, headers, body)] = exchange(served, raw)
    assert got == status and body["error"]["status"] == status and body["error"]["message"]
    assert headers["Content-Type"].startswith("application/json")
    if b"Origin" in raw:
        assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_request_cut_off_mid_headers_is_not_served(served):
    assert exchange(served, b"GET /api/health HTTP/1.1\r\nHost: x\r\n") == []


def test_five_hundred_idle_connections_do_not_stop_a_normal_request(served):
    idle = [socket.create_connection(("127.0.0.1", served), timeout=10) for _ in range(500)]
    try:
        for sock in idle[:250]:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        start = time.monotonic()
        response = requests.get(f"http://127.0.0.1:{served}/api/health", timeout=10)
        assert response.status_code == 200
        assert time.monotonic() - start < 1.0
    finally:
        for sock in idle:
            sock.close()


def test_a_hostile_location_is_answered_quickly_while_health_stays_fast(served):
    base = f"http://127.0.0.1:{served}"
    hostile = "a" + " " * 20_000 + "b"
    results = {}

    def hostile_request():
        start = time.monotonic()
        results["status"] = requests.get(base + "/api/skills", params={"location": hostile}, timeout=30).status_code
        results["hostile"] = time.monotonic() - start

    thread = threading.Thread(target=hostile_request)
    thread.start()
    try:
        start = time.monotonic()
        assert requests.get(base + "/api/health", timeout=10).status_code == 200
        health = time.monotonic() - start
    finally:
        thread.join(timeout=30)
    assert results["status"] == 400 and results["hostile"] < 1.0 and health < 1.0  # an unknown place


def test_a_connection_over_the_limit_gets_a_json_503(db, monkeypatch):
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 2)
    fill(db)
    httpd = start(db)
    port = httpd.server_address[1]
    held = [connect(port), connect(port)]
    try:
        time.sleep(0.2)  # both are being served (waiting for their headers)
        with connect(port) as third:
            [(status, _, body)] = responses_in(read_all(third))
        assert status == 503 and "too many connections" in body["error"]["message"]
    finally:
        for sock in held:
            sock.close()
        httpd.shutdown()
        httpd.server_close()


def test_a_query_that_never_ends_is_stopped_with_a_503(db, monkeypatch):
    monkeypatch.setattr(server_module, "QUERY_DEADLINE_S", 0.5)
    fill(db)
    # A hostile database: postings is a view that never runs out of rows.
    write_sqlite(db, "DROP TABLE postings",
                 "CREATE VIEW postings AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                 "SELECT x AS id FROM n")
    httpd = start(db)
    try:
        start_at = time.monotonic()
        response = requests.get(f"http://127.0.0.1:{httpd.server_address[1]}/api/health", timeout=30)
        assert response.status_code == 503 and response.json()["error"]["status"] == 503
        assert str(db) not in response.text  # the path stays in the server's log
        assert time.monotonic() - start_at < 5
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_unexpected_error_is_a_json_500_with_cors(db, monkeypatch):
    def broken(self, params):
        raise RuntimeError("a bug")

    monkeypatch.setattr(server_module.SkillPulseAPI, "health", broken)
    fill(db)
    httpd = start(db)
    try:
        response = requests.get(f"http://127.0.0.1:{httpd.server_address[1]}/api/health",
                                headers={"Origin": ORIGIN}, timeout=10)
        assert response.status_code == 500 and response.json()["error"]["status"] == 500
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_clients_that_hang_up_mid_answer_leave_the_server_answering(served, caplog):
    for _ in range(50):
        with connect(served) as sock:
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert requests.get(f"http://127.0.0.1:{served}/api/health", timeout=10).status_code == 200
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
