"""The official `openai` SDK gets the same shapes from every provider kind (issue #5, item 6).

One `nuri`, started here with debug logging, has one provider per kind — `openai`,
`openai_compatible` (both served by the test kit's `nuri-mock-upstream`), `anthropic`, `gemini`,
`clova` v3 and v1 (served by `nuri-provider-mock`) — plus, per kind, a second provider whose
credential the upstream rejects. Every kind answers the same requests and is held to the same
assertions. The module's last test stops `nuri` and searches everything it printed for the
provider secrets (item 5 at process level).

The native mocks pick their answer by the upstream model name (`text`, `tool`, `rate-limited`);
the OpenAI-compatible mock by `mock:` words in the last user message. The requests below carry
both, so each kind gets the identical request.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import openai
import pytest

from conftest import ADMIN, MOCK_BIN, NURI_BIN, free_port, setup_tenant, start_provider_mock, stop, wait_http

# The one key the native mocks accept (nuri_provider_mocks::MOCK_KEY).
NATIVE_KEY = "nuri-mock-key-5ecret"
OPENAI_KEY = "sk-openai-py-secret-7f3a9c41"
COMPAT_KEY = "sk-compat-py-secret-2b8e1d57"

OPENAI_TEXT = "Hello from the mock upstream, friend."
NATIVE_TEXT = "Hello there!"

# label -> how that kind is configured and what its mock answers.
KINDS = {
    "openai": {"kind": "openai", "mock": "openai", "key": OPENAI_KEY, "text": OPENAI_TEXT, "usage": (2, 8),
               "models": {"text": "mock-model", "tool": "mock-model", "rate-limited": "mock-model"}, "embed": "mock-embedding", "tools": True},
    "openai_compatible": {"kind": "openai_compatible", "mock": "openai_compatible", "key": COMPAT_KEY, "text": OPENAI_TEXT, "usage": (2, 8),
                          "models": {"text": "mock-model", "tool": "mock-model", "rate-limited": "mock-model"}, "embed": "mock-embedding", "tools": True},
    "anthropic": {"kind": "anthropic", "mock": "anthropic", "key": NATIVE_KEY, "text": NATIVE_TEXT, "usage": (11, 6),
                  "models": {}, "embed": None, "tools": True},
    "gemini": {"kind": "gemini", "mock": "gemini", "key": NATIVE_KEY, "text": NATIVE_TEXT, "usage": (11, 6),
               "models": {}, "embed": "text-embedding-004", "tools": True},
    "clova_v3": {"kind": "clova", "mock": "clova", "api_version": "v3", "key": NATIVE_KEY, "text": NATIVE_TEXT, "usage": (11, 6),
                 "models": {}, "embed": None, "tools": True},
    # CLOVA v1 has no function calling: Nuri refuses tools for it with a 400.
    "clova_v1": {"kind": "clova", "mock": "clova", "api_version": "v1", "key": NATIVE_KEY, "text": NATIVE_TEXT, "usage": (11, 6),
                 "models": {}, "embed": None, "tools": False},
}
LABELS = list(KINDS)
EMBED_LABELS = [label for label, k in KINDS.items() if k["embed"]]


def wrong_key(label):
    return f"sk-wrong-{label}-key-9d0c4e"


SECRETS = {OPENAI_KEY, COMPAT_KEY, NATIVE_KEY} | {wrong_key(label) for label in LABELS}

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                           "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]
HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris? mock:tool"}]
LIMITED = [{"role": "user", "content": "Say hello mock:status=429"}]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def config_for(bases):
    out = []
    for label, k in KINDS.items():
        version = f'\napi_version = "{k["api_version"]}"' if "api_version" in k else ""
        for name, env in ((label, f"NURI_PY_{label.upper()}_KEY"), (f"{label}_badkey", f"NURI_PY_{label.upper()}_BADKEY")):
            out.append(f'[[providers]]\nname = "{name}"\nkind = "{k["kind"]}"\nbase_url = "{bases[k["mock"]]}"\napi_key_env = "{env}"{version}\n')
        model = lambda scenario: k["models"].get(scenario, scenario)  # noqa: E731
        for public, provider, upstream in (("chat", label, model("text")), ("tool", label, model("tool")),
                                           ("limited", label, model("rate-limited")), ("badkey", f"{label}_badkey", model("text"))):
            out.append(f'[[models]]\nname = "{label}-{public}"\nroutes = [{{ provider = "{provider}", model = "{upstream}" }}]\n')
        if k["embed"]:
            out.append(f'[[models]]\nname = "{label}-embed"\nkind = "embeddings"\nroutes = [{{ provider = "{label}", model = "{k["embed"]}" }}]\n')
    return "\n".join(out)


@pytest.fixture(scope="module")
def gateway():
    tmp = tempfile.mkdtemp(prefix="nuri-py-kinds-")
    procs, bases = [], {}
    nuri = None
    try:
        for label, key in (("openai", OPENAI_KEY), ("openai_compatible", COMPAT_KEY)):
            port = free_port()
            procs.append(subprocess.Popen([MOCK_BIN, "--listen", f"127.0.0.1:{port}", "--api-key", key],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(port)
            bases[label] = f"http://127.0.0.1:{port}/v1"
        for kind in ("anthropic", "gemini", "clova"):
            proc, base = start_provider_mock(kind)
            procs.append(proc)
            bases[kind] = base
        path = os.path.join(tmp, "nuri.toml")
        with open(path, "w") as f:
            f.write(config_for(bases))
        port = free_port()
        env = dict(os.environ, NURI_ADMIN_TOKEN=ADMIN, NURI_LISTEN=f"127.0.0.1:{port}", NURI_DATA_DIR=os.path.join(tmp, "data"),
                   NURI_LOG="debug", RUST_LOG="debug")
        for label, k in KINDS.items():
            env[f"NURI_PY_{label.upper()}_KEY"] = k["key"]
            env[f"NURI_PY_{label.upper()}_BADKEY"] = wrong_key(label)
        log_path = os.path.join(tmp, "nuri.log")
        with open(log_path, "w") as log:
            nuri = subprocess.Popen([NURI_BIN, "--config", path, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", timeout=120)
        yield {"base": base, "key": setup_tenant(base), "log": log_path, "stop": lambda: stop(nuri)}
    finally:
        if nuri is not None:
            stop(nuri)
        for p in procs:
            stop(p, timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def sdk(gateway):
    return openai.OpenAI(base_url=gateway["base"] + "/v1", api_key=gateway["key"], max_retries=0)


def chat(sdk, label, messages=HELLO, **kw):
    return sdk.chat.completions.create(model=f"{label}-chat", messages=messages, **kw)


def collect(stream, model):
    """Reads a stream, checking every chunk's envelope; returns (text, tool calls by index,
    finish reasons, usage)."""
    text, calls, finishes, usage, ids = "", {}, [], None, set()
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == model
        ids.add(chunk.id)
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
        for choice in chunk.choices:
            assert choice.index == 0
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = entry["id"] or call.id
                if call.function is not None:
                    entry["name"] = entry["name"] or call.function.name
                    entry["arguments"] += call.function.arguments or ""
            if choice.finish_reason is not None:
                finishes.append(choice.finish_reason)
    assert len(ids) == 1 and next(iter(ids))
    return text, calls, finishes, usage


def assert_usage(usage, expected):
    assert isinstance(usage.prompt_tokens, int) and isinstance(usage.completion_tokens, int)
    assert (usage.prompt_tokens, usage.completion_tokens) == expected
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize("label", LABELS)
def test_chat_shape(sdk, label):
    r = chat(sdk, label)
    assert isinstance(r.id, str) and r.id
    assert r.object == "chat.completion"
    assert r.model == f"{label}-chat"
    assert len(r.choices) == 1 and r.choices[0].index == 0
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == KINDS[label]["text"]
    assert r.choices[0].finish_reason == "stop"
    assert_usage(r.usage, KINDS[label]["usage"])


@pytest.mark.parametrize("label", LABELS)
def test_stream_joins_to_the_chat_answer(sdk, label):
    whole = chat(sdk, label)
    text, calls, finishes, usage = collect(
        chat(sdk, label, stream=True, stream_options={"include_usage": True}), f"{label}-chat")
    assert text == whole.choices[0].message.content
    assert calls == {}
    assert finishes == ["stop"]
    assert usage is not None
    assert_usage(usage, KINDS[label]["usage"])
    # Without include_usage no chunk carries usage.
    assert collect(chat(sdk, label, stream=True), f"{label}-chat")[3] is None


@pytest.mark.parametrize("label", LABELS)
def test_tool_call(sdk, label):
    model = f"{label}-tool"
    if not KINDS[label]["tools"]:
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS)
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS, stream=True)
        return
    r = sdk.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS)
    assert r.model == model
    assert r.choices[0].finish_reason == "tool_calls"
    [call] = r.choices[0].message.tool_calls
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args, dict) and args

    text, calls, finishes, _ = collect(sdk.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS, stream=True), model)
    assert list(calls) == [0]
    assert calls[0]["id"] and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == args
    assert finishes == ["tool_calls"]
    assert text == (r.choices[0].message.content or "")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("label", LABELS)
def test_upstream_rate_limit_is_rate_limit_error(sdk, label, stream):
    with pytest.raises(openai.RateLimitError) as e:
        sdk.chat.completions.create(model=f"{label}-limited", messages=LIMITED, stream=stream)
    assert e.value.status_code == 429
    assert e.value.code == "rate_limit_exceeded"
    assert e.value.response.headers.get("retry-after")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("label", LABELS)
def test_upstream_rejecting_our_key_is_502_upstream_auth_error(sdk, label, stream):
    with pytest.raises(openai.InternalServerError) as e:
        sdk.chat.completions.create(model=f"{label}-badkey", messages=HELLO, stream=stream)
    assert e.value.status_code == 502
    assert e.value.code == "upstream_auth_error"
    body = e.value.response.text
    assert not any(s in body for s in SECRETS)


@pytest.mark.parametrize("label", EMBED_LABELS)
def test_embeddings(sdk, label):
    inputs = ["one two", "three"]
    model = f"{label}-embed"
    floats = sdk.embeddings.create(model=model, input=inputs, encoding_format="float")
    assert floats.object == "list" and floats.model == model
    assert [d.index for d in floats.data] == [0, 1]
    assert all(d.object == "embedding" and d.embedding and all(isinstance(x, float) for x in d.embedding) for d in floats.data)
    assert isinstance(floats.usage.prompt_tokens, int) and isinstance(floats.usage.total_tokens, int)
    # The SDK's default asks for base64 and decodes it: the same vectors come back.
    packed = sdk.embeddings.create(model=model, input=inputs)
    assert [[round(x, 5) for x in d.embedding] for d in packed.data] == [[round(x, 5) for x in d.embedding] for d in floats.data]


def test_zz_secrets_never_logged(gateway, sdk):
    """Runs last in this module: by now every kind answered, failed upstream (429) and had its
    key rejected. Stops nuri, then searches all it printed at debug level for the secrets."""
    for label in LABELS:
        chat(sdk, label)
        with pytest.raises(openai.InternalServerError):
            sdk.chat.completions.create(model=f"{label}-badkey", messages=HELLO)
    gateway["stop"]()
    with open(gateway["log"], errors="replace") as f:
        log = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    assert "DEBUG" in log, "nuri did not log at debug level; the search below would prove nothing"
    # Every rejected-key request was logged (so the search covers them), yet no secret was.
    for label in LABELS:
        assert f"provider={label}_badkey" in log, f"no debug line about {label}_badkey"
    leaked = sorted(s for s in SECRETS if s in log)
    assert leaked == [], f"secrets in nuri's output: {leaked}"
