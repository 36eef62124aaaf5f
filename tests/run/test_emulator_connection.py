"""towergen.run.emulator: how the emulator is reached (the provider override, towergen's own calls).
Every example planning through the override: tests/e2e/test_provider_warnings.py."""

from __future__ import annotations

import http.server
import re
import threading
import urllib.request

import pytest

from towergen.run.emulator import open_url, override_hcl


def test_override_file_is_escaped_hcl():
    text = override_hcl('http://127.0.0.1:1/"${x}')
    assert 'batch = "http://127.0.0.1:1/\\"$${x}"' in text
    assert re.search(r"s3_use_path_style +=  *true", text)


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"emulator")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_emulator_is_reached_whatever_proxy_an_earlier_call_saw(loopback_server, monkeypatch):
    """urllib's urlopen keeps one opener per process, with the proxies of its first call: after a
    call made with HTTP_PROXY set (a test that fakes being offline, a user's shell), loopback
    requests kept going to that proxy and the emulator "did not answer" (seen under -n 6)."""
    monkeypatch.setattr(urllib.request, "_opener", None)  # restored afterwards: the bug is process-wide
    with monkeypatch.context() as offline:
        offline.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        offline.setenv("http_proxy", "http://127.0.0.1:9")
        offline.setenv("NO_PROXY", "127.0.0.1")
        offline.setenv("no_proxy", "127.0.0.1")
        with urllib.request.urlopen(loopback_server, timeout=5) as response:  # the first call
            assert response.read() == b"emulator"
    # the proxy variables are gone, urllib's opener still has the proxy: the old way fails
    with pytest.raises(OSError):
        urllib.request.urlopen(loopback_server, timeout=5)
    with open_url(loopback_server, timeout=5) as response:
        assert response.read() == b"emulator"
    # and with the proxy set now, loopback still never goes through it
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with open_url(loopback_server, timeout=5) as response:
        assert response.read() == b"emulator"
