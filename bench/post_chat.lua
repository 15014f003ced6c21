-- wrk script: a small chat completion POST (system + user message, max_tokens 64).
-- Environment:
--   BENCH_STREAM=1     ask for an SSE stream ("stream": true); otherwise plain JSON
--   BENCH_MODEL        model name (default "bench-chat")
--   NURI_BENCH_KEY     API key sent as "Authorization: Bearer ..." (default "sk-bench")
local stream = os.getenv("BENCH_STREAM") == "1"
local model = os.getenv("BENCH_MODEL") or "bench-chat"
local key = os.getenv("NURI_BENCH_KEY") or "sk-bench"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '",'
  .. '"messages":[{"role":"system","content":"You are a helpful assistant."},'
  .. '{"role":"user","content":"Say hello in one short sentence."}],'
  .. '"max_tokens":64'
  .. (stream and ',"stream":true' or '')
  .. '}'
