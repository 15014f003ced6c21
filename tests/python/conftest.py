"""Starts a real `nuri` (and the test kit's mock upstream) for the official `openai` SDK tests.

NURI_BIN, MOCK_BIN and PROVIDER_MOCK_BIN point at the built binaries (scripts/test sets them;
the defaults are the debug builds in CARGO_TARGET_DIR). Each session gets a fresh data folder,
free ports, an operator token, and an organisation, project and key.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache", "nuri", "target"))
NURI_BIN = os.environ.get("NURI_BIN", os.path.join(TARGET, "debug", "nuri"))
MOCK_BIN = os.environ.get("MOCK_BIN", os.path.join(TARGET, "debug", "nuri-mock-upstream"))
PROVIDER_MOCK_BIN = os.environ.get("PROVIDER_MOCK_BIN", os.path.join(TARGET, "debug", "nuri-provider-mock"))
MODELS_DIR = os.environ.get("NURI_MODELS_DIR", os.path.join(ROOT, "models"))
ADMIN = "py-test-operator-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_provider_mock(kind):
    """Starts `nuri-provider-mock --kind KIND` on a free port; returns (process, base_url)."""
    proc = subprocess.Popen([PROVIDER_MOCK_BIN, "--kind", kind], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != kind:
        proc.kill()
        raise RuntimeError(f"nuri-provider-mock --kind {kind} did not start (printed {line!r})")
    return proc, line[1]


def stop(proc, timeout=20):
    """Terminates a child process, killing it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def setup_tenant(base):
    """Creates an organisation with a grant of credits, a project and an API key through the
    admin API; returns the key."""
    org = admin(base, "POST", "/admin/v1/orgs", {"name": "py"})
    programme = admin(base, "POST", "/admin/v1/programmes", {"name": "py", "sponsor": "tests", "budget": 10**12})
    admin(base, "POST", f"/admin/v1/programmes/{programme['id']}/grants", {"org_id": org["id"], "amount": 10**12})
    project = admin(base, "POST", f"/admin/v1/orgs/{org['id']}/projects", {"name": "sdk"})
    return admin(base, "POST", f"/admin/v1/projects/{project['id']}/keys", {"name": "sdk"})["key"]


def have_local_models():
    return os.path.exists(os.path.join(MODELS_DIR, "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"))


def admin(base, method, path, body=None):
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


@pytest.fixture(scope="session")
def nuri():
    tmp = tempfile.mkdtemp(prefix="nuri-py-")
    mock_port, nuri_port = free_port(), free_port()
    mock = subprocess.Popen([MOCK_BIN, "--listen", f"127.0.0.1:{mock_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    local = have_local_models()
    config = f"""
[[providers]]
name = "mock"
kind = "openai_compatible"
base_url = "http://127.0.0.1:{mock_port}/v1"
api_key_env = "MOCK_PROVIDER_KEY"

[[models]]
name = "mock-chat"
routes = [{{ provider = "mock", model = "mock-model" }}]
price = {{ input_per_million = 1000, output_per_million = 3000 }}
max_output_tokens = 1024

[[models]]
name = "mock-embed"
kind = "embeddings"
routes = [{{ provider = "mock", model = "mock-embedding" }}]
"""
    if local:
        config += """
[[providers]]
name = "builtin"
kind = "local"
builtin = true

[[models]]
name = "local-chat"
routes = [{ provider = "builtin", model = "local-chat" }]

[[models]]
name = "local-embed"
kind = "embeddings"
routes = [{ provider = "builtin", model = "local-embed" }]
"""
    path = os.path.join(tmp, "nuri.toml")
    with open(path, "w") as f:
        f.write(config)
    env = dict(os.environ, NURI_ADMIN_TOKEN=ADMIN, NURI_LISTEN=f"127.0.0.1:{nuri_port}", NURI_DATA_DIR=os.path.join(tmp, "data"),
               NURI_MODELS_DIR=MODELS_DIR, MOCK_PROVIDER_KEY="sk-upstream-secret", NURI_LOG="warn")
    log = open(os.path.join(tmp, "nuri.log"), "w")
    proc = subprocess.Popen([NURI_BIN, "--config", path, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{nuri_port}"
    try:
        wait_http(f"http://127.0.0.1:{mock_port}/v1/models")
        wait_http(base + "/healthz", timeout=120)
        yield {"base": base, "key": setup_tenant(base), "local": local, "log": os.path.join(tmp, "nuri.log")}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        mock.terminate()
        mock.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def client(nuri):
    from openai import OpenAI

    return OpenAI(base_url=nuri["base"] + "/v1", api_key=nuri["key"], max_retries=0)
