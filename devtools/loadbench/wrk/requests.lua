-- BookWise wrk script (devtools/loadbench/wrk.py writes the files it reads).
-- Usage: wrk -t <threads> ... -s requests.lua <url> -- <requests file> <threads>
-- Each line of the file is one request, tab-separated: METHOD, PATH, TOKEN ("-" for none),
-- BODY ("-" for none). Every thread pre-formats all of them once and cycles through them,
-- starting at its own offset. done() prints one line "WRKJSON {...}" with exact figures
-- (microseconds) that wrk.py reads; wrk's own text report is printed as usual.

local threads = {}
local next_id = 0
id = 0 -- this thread's number (set by setup in the main state before init)
thread_total = 1 -- the number of threads: a script argument (thread states cannot count them)

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function split_tabs(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(out, field)
  end
  return out
end

function format_request(method, path, token, body)
  local headers = { ["Accept"] = "application/json", ["User-Agent"] = "bookwise-wrk" }
  if token ~= nil and token ~= "" and token ~= "-" then
    headers["Authorization"] = "Bearer " .. token
  end
  if body == nil or body == "" or body == "-" then
    body = nil
  else
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end

local requests = {}
local position = 1

function init(args)
  local path = args[1]
  thread_total = tonumber(args[2] or "1")
  local file = assert(io.open(path, "r"), "cannot open requests file " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then
      local f = split_tabs(line)
      table.insert(requests, format_request(f[1], f[2], f[3], f[4]))
    end
  end
  file:close()
  assert(#requests > 0, "empty requests file " .. path)
  position = (id * math.floor(#requests / math.max(thread_total, 1))) % #requests + 1
end

function request()
  local r = requests[position]
  position = position % #requests + 1
  return r
end

-- Per-thread counters, collected in done(): scripts that define response() fill them.
statuses = {}
codes = {}

local function encode_counts(t)
  local parts = {}
  for k, v in pairs(t) do
    table.insert(parts, string.format("%q:%d", tostring(k), v))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests_stats)
  local all_statuses, all_codes = {}, {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses") or {}) do all_statuses[k] = (all_statuses[k] or 0) + v end
    for k, v in pairs(thread:get("codes") or {}) do all_codes[k] = (all_codes[k] or 0) + v end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p75":%d,"p90":%d,"p99":%d},'
      .. '"statuses":%s,"codes":%s}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    encode_counts(all_statuses), encode_counts(all_codes)))
end
