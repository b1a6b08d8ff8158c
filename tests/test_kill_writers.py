"""Writers killed with SIGKILL at random moments leave the old file or the new one, never a partial one."""

import http.server
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from decluster import DEC

ROUNDS = 6

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from decluster import DEC
    from decluster.io.files import atomic_write_bytes
    folder = Path(sys.argv[1])
    models = [DEC.load(folder / "a"), DEC.load(folder / "b")]
    payloads = [b"a" * 3_000_000, b"b" * 2_000_000]
    print("ready", flush=True)
    while True:
        for model, payload in zip(models, payloads):
            model.save(folder / "target")
            atomic_write_bytes(folder / "labels.csv", payload)
""")


@pytest.fixture(scope="module")
def two_models(fitted_dec, make_dec, digits_small, tmp_path_factory):
    folder = tmp_path_factory.mktemp("writers")
    fitted_dec.save(folder / "a")
    make_dec(random_state=1, max_iter=20).fit(digits_small[0]).save(folder / "b")
    fitted_dec.save(folder / "target")
    return folder


def test_killed_model_and_file_writers_leave_complete_files(two_models):
    folder = two_models
    expected_centers = [DEC.load(folder / name).cluster_centers_ for name in ("a", "b")]
    rng = np.random.default_rng(0)
    for _ in range(ROUNDS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        centers = DEC.load(folder / "target").cluster_centers_
        assert any(np.array_equal(centers, expected) for expected in expected_centers)
        if (folder / "labels.csv").exists():
            assert (folder / "labels.csv").read_bytes() in (b"a" * 3_000_000, b"b" * 2_000_000)


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """Serves 1 MB slowly, so a client can be killed in the middle of the download."""

    started = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            for _ in range(256):
                self.wfile.write(b"\0" * 4096)
                self.wfile.flush()
                SlowHandler.started.set()
                time.sleep(0.02)
        except OSError:
            pass

    def log_message(self, *args):
        pass


DOWNLOADER = textwrap.dedent("""
    import sys
    from decluster.data import datasets
    datasets.BASE_URLS["mnist"] = sys.argv[1]
    datasets.load_dataset("mnist", data_dir=None)
""")


def test_killed_download_leaves_no_file_in_the_cache(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        env = {**__import__("os").environ, "DECLUSTER_DATA": str(tmp_path)}
        child = subprocess.Popen([sys.executable, "-c", DOWNLOADER, url], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert SlowHandler.started.wait(timeout=60)
        time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        server.shutdown()
    assert child.returncode == -signal.SIGKILL
    complete = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.endswith("-ubyte.gz")]
    assert complete == []
    assert any(tmp_path.rglob("*")), "the download never started writing"
