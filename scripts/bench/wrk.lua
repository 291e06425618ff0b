-- wrk script for GraphQL POSTs: every response is checked (status 200 and
-- no "errors" member in the body), failures are counted and the first one is
-- kept, and the run ends with one JSON line on stdout for the driver.
--
-- Configured through the environment:
--   BENCH_BODY   the JSON request body; each "%ID%" in it is replaced by an
--                id drawn at random from BENCH_IDS (one per line), and each
--                "%N%" by a per-thread counter
--   BENCH_IDS    optional file of ids
--   BENCH_TOKEN  optional bearer token
--   BENCH_FAIL   optional file that receives the first failed response

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local body_template, ids, headers, counter

function init(args)
  failures = 0
  first_failure = nil
  counter = 0
  body_template = os.getenv("BENCH_BODY")
  ids = {}
  local path = os.getenv("BENCH_IDS")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then table.insert(ids, line) end
    end
  end
  headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local body = body_template
  if #ids > 0 then
    local pick = ids[math.random(#ids)]
    body = body:gsub("%%ID%%", pick)
  end
  counter = counter + 1
  body = body:gsub("%%N%%", id .. "-" .. counter)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    failures = failures + 1
    if not first_failure then first_failure = status .. " " .. body:sub(1, 500) end
  end
end

function done(summary, latency, requests)
  local failed, sample = 0, nil
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
    sample = sample or thread:get("first_failure")
  end
  local path = os.getenv("BENCH_FAIL")
  if sample and path and path ~= "" then
    local f = io.open(path, "w")
    f:write(sample)
    f:close()
  end
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"failed":%d,"socket_errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    failed, socket, e.status))
end
