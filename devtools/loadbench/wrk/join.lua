-- BookWise wrk script: POST /api/v1/slots/<id>/join/ by many customers over many slots.
-- Usage: wrk ... -s join.lua <url> -- <tokens file> <slots file> <offset> <threads>
-- tokens file: one customer access token a line; slots file: "<slot id>\t<party size>" a line.
-- Request number g (counted across threads from <offset>) is customer g % C on slot g % S; wrk.py
-- writes S coprime with C, so no (customer, slot) pair repeats before C x S requests (Chinese
-- remainders) and consecutive joins hit different customers and slots (no lock queue of our own
-- making). wrk.py passes a new offset each run.
-- Counts HTTP statuses and the error "code" of the body (slot_full, already_booked, ...).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "requests.lua")

local tokens, slots = {}, {}
local counter, offset = 0, 0

function init(args)
  for line in assert(io.open(args[1], "r")):lines() do
    if line ~= "" then table.insert(tokens, line) end
  end
  for line in assert(io.open(args[2], "r")):lines() do
    local sid, party = line:match("^(%d+)\t(%d+)")
    if sid then table.insert(slots, { sid, party }) end
  end
  offset = tonumber(args[3] or "0")
  thread_total = tonumber(args[4] or "1")
  assert(#tokens > 0 and #slots > 0, "join.lua needs tokens and slots")
end

function request()
  local g = offset + counter * thread_total + id
  counter = counter + 1
  local c = g % #tokens
  local s = g % #slots
  local slot = slots[s + 1]
  return format_request("POST", "/api/v1/slots/" .. slot[1] .. "/join/", tokens[c + 1],
    '{"party_size": ' .. slot[2] .. "}")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then
    local code = body and body:match('"code"%s*:%s*"([^"]+)"') or "none"
    codes[code] = (codes[code] or 0) + 1
  end
end
