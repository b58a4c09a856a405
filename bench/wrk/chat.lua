-- wrk script for bench/load.py: POST bodies with a unique message id per request.
--   CG_MODE   moderate (POST /moderate), stateless (POST /v1/moderations) or batch
--             (POST /moderate/batch, CG_BATCH messages a request)
--   CG_RUN    a prefix unique to this run (message ids are CG_RUN-<thread>-<n>[-<i>])
--   CG_TEXTS  a file of message texts, one JSON-escaped string (without quotes) a line;
--             default: a few built-in lines
-- Counts answers by status per thread and prints one JSON line at the end, which load.py
-- reads: requests, 200s, other statuses, socket errors and latency percentiles in µs.

local mode = os.getenv("CG_MODE") or "moderate"
local run = os.getenv("CG_RUN") or tostring(os.time())
local batch = tonumber(os.getenv("CG_BATCH") or "100")

texts = {
  "hello chat, how is everyone doing today",
  "that play was insane PogChamp",
  "gg wp, see you next game",
  "you are an idiot and nobody likes you",
  "buy cheap followers at spam dot example",
  "LOL that was so funny KEKW",
  "can someone explain the rules of this mode",
  "stop being so toxic in chat",
}

local path = os.getenv("CG_TEXTS")
if path then
  local loaded = {}
  for line in io.lines(path) do
    if #line > 0 then loaded[#loaded + 1] = line end
  end
  if #loaded > 0 then texts = loaded end
end

-- Globals: wrk reads and sets them across threads with thread:get / thread:set.
threads = {}
counter = 0
ok = 0
other = 0
tid = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function message(id, n)
  return '{"message":"' .. texts[(n % #texts) + 1] .. ' ' .. n .. '","user_id":"u' .. (n % 997)
    .. '","channel_id":"bench-' .. (n % 7) .. '","message_id":"' .. id .. '"}'
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local base = run .. "-" .. tid .. "-" .. counter
  if mode == "stateless" then
    return wrk.format("POST", "/v1/moderations", headers,
      '{"input":"' .. texts[(counter % #texts) + 1] .. ' ' .. counter .. '"}')
  elseif mode == "batch" then
    local parts = {}
    for i = 1, batch do
      parts[i] = message(base .. "-" .. i, counter * batch + i)
    end
    return wrk.format("POST", "/moderate/batch", headers,
      '{"messages":[' .. table.concat(parts, ",") .. ']}')
  end
  return wrk.format("POST", "/moderate", headers, message(base, counter))
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'CGRESULT {"requests":%d,"duration_us":%d,"ok":%d,"other":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, total_ok, total_other,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
