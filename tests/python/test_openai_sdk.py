"""The official `openai` Python package against a running `nuri`: chat, streaming, embeddings,
model list, and errors surfacing as the SDK's own exception types."""

import openai
import pytest


def test_models_list(client, nuri):
    ids = [m.id for m in client.models.list()]
    assert "mock-chat" in ids and "mock-embed" in ids
    if nuri["local"]:
        assert "local-chat" in ids and "local-embed" in ids
    assert client.models.retrieve("mock-chat").id == "mock-chat"


def test_chat(client):
    r = client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "hello there"}])
    assert r.model == "mock-chat"
    assert r.choices[0].message.content == "Hello from the mock upstream, friend."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == 2 and r.usage.completion_tokens == 8


def test_chat_stream_with_usage(client):
    text, usage = "", None
    for chunk in client.chat.completions.create(
        model="mock-chat", messages=[{"role": "user", "content": "stream"}], stream=True, stream_options={"include_usage": True}
    ):
        assert chunk.model == "mock-chat"
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "Hello from the mock upstream, friend."
    assert usage is not None and usage.completion_tokens == 8


def test_tool_calls_stream(client):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    args, name = "", None
    for chunk in client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "weather mock:tool"}], tools=tools, stream=True):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = name or call.function.name
            args += call.function.arguments or ""
    assert name == "get_weather"
    assert args == '{"city":"Seoul","unit":"celsius"}'


def test_embeddings_default_base64_and_float(client):
    r = client.embeddings.create(model="mock-embed", input=["one two", "three"])
    assert len(r.data) == 2 and len(r.data[0].embedding) == 8
    f = client.embeddings.create(model="mock-embed", input=["one two", "three"], encoding_format="float")
    assert [round(x, 5) for x in f.data[0].embedding] == [round(x, 5) for x in r.data[0].embedding]


def test_bad_key_is_authentication_error(nuri):
    from openai import OpenAI

    bad = OpenAI(base_url=nuri["base"] + "/v1", api_key="nk-definitely-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "invalid_api_key"


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"


def test_bad_request_and_upstream_errors(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="mock-chat", messages=[])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "mock:status=429"}])
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "mock:status=500"}])
    assert e.value.status_code == 502


def test_error_mid_stream_raises(client):
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "mock:inband_error"}], stream=True):
            pass


def test_local_chat_and_embeddings(client, nuri):
    if not nuri["local"]:
        pytest.skip("built-in models not installed (run scripts/setup)")
    r = client.chat.completions.create(model="local-chat", messages=[{"role": "user", "content": "What is 2 plus 2?"}], temperature=0, max_tokens=16)
    assert "4" in r.choices[0].message.content
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="local-chat", messages=[{"role": "user", "content": "What is 2 plus 2?"}], temperature=0, max_tokens=16, stream=True)
        if c.choices
    )
    assert text == r.choices[0].message.content
    e = client.embeddings.create(model="local-embed", input=["The cat sits on the mat.", "A cat is sitting on a mat.", "Quarterly revenue rose."])
    v = [d.embedding for d in e.data]
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    assert len(v[0]) == 384
    assert dot(v[0], v[1]) > dot(v[0], v[2])


def test_no_grant_is_insufficient_quota_and_balance_shows_credit(client, nuri):
    from conftest import admin
    import json
    import urllib.request

    org = admin(nuri["base"], "POST", "/admin/v1/orgs", {"name": "no credit"})
    project = admin(nuri["base"], "POST", f"/admin/v1/orgs/{org['id']}/projects", {"name": "p"})
    key = admin(nuri["base"], "POST", f"/admin/v1/projects/{project['id']}/keys", {"name": "k"})
    broke = openai.OpenAI(base_url=nuri["base"] + "/v1", api_key=key["key"], max_retries=0)
    with pytest.raises(openai.RateLimitError) as e:
        broke.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "insufficient_quota"
    # The funded organisation's balance, as the key sees it.
    client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    req = urllib.request.Request(nuri["base"] + "/v1/balance", headers={"Authorization": f"Bearer {nuri['key']}"})
    with urllib.request.urlopen(req) as r:
        balance = json.loads(r.read())
    assert balance["currency"] == "KRW"
    assert balance["granted"] == 10**12
    assert balance["remaining"] == balance["granted"] - balance["spent"] - balance["reserved"]
    assert balance["spent"] + balance["reserved"] > 0


def test_local_max_tokens_capped_note_plain_and_streamed(client, nuri):
    """A `max_tokens` beyond the context window is capped; the bound used is reported as
    `max_tokens_capped_to` on the answer and on a stream's first chunk (an extra field the SDK
    keeps in `model_extra`)."""
    if not nuri["local"]:
        pytest.skip("built-in models not installed (run scripts/setup)")
    # A question the model answers in one short sentence on every CPU, so `stop` ends it quickly.
    ask = dict(model="local-chat", messages=[{"role": "user", "content": "What is 2 plus 2?"}], temperature=0, max_tokens=100_000, stop=["."])
    r = client.chat.completions.create(**ask)
    capped = (r.model_extra or {}).get("max_tokens_capped_to")
    assert isinstance(capped, int) and 0 < capped < 100_000
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert (chunks[0].model_extra or {}).get("max_tokens_capped_to") == capped
    assert all("max_tokens_capped_to" not in (c.model_extra or {}) for c in chunks[1:])
    # A bound that fits is not capped, and nothing is reported.
    small = dict(ask, max_tokens=8)
    assert "max_tokens_capped_to" not in (client.chat.completions.create(**small).model_extra or {})
    first = next(iter(client.chat.completions.create(**small, stream=True)))
    assert "max_tokens_capped_to" not in (first.model_extra or {})
