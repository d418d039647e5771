-- gateway_chat.lua - wrk script: POST a typical short chat completion
-- (system prompt + a few turns, harmless text: the allow path) and print
-- one machine-readable RESULT line at the end for bench/gateway_wrk.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("WRK_API_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
local path = os.getenv("WRK_PATH") or "/v1/chat/completions"
local stream = os.getenv("WRK_STREAM") == "1"
wrk.body = '{"model":"test-model","stream":' .. (stream and "true" or "false") .. ',' ..
  '"messages":[{"role":"system","content":"You are a friendly assistant for a cooking app."},' ..
  '{"role":"user","content":"I have eggs, flour and some old bananas. What can I bake?"},' ..
  '{"role":"assistant","content":"Banana bread is a great choice. Do you have butter?"},' ..
  '{"role":"user","content":"Yes, and sugar too. How long does it take in the oven?"}]}'
if path == "/v1/screen" then
  wrk.body = '{"text":"Yes, and sugar too. How long does it take in the oven?"}'
end

function request()
  return wrk.format(nil, path)
end

local non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p90_us=%d p99_us=%d mean_us=%.0f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout))
end
