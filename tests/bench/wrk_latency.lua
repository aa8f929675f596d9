-- wrk_latency.lua: client2's load for tests/bench/bench_smoothing.py.
--
-- Run as `wrk -t 1 -c C -d Ds -s wrk_latency.lua URL -- DELAY_MS`. Each of the C keep-alive
-- connections waits before each request (wrk's `delay()` hook; the wait is not part of the
-- measured latency, which runs from writing the request to the end of its response) a time
-- drawn uniformly from [DELAY_MS / 2, 3 * DELAY_MS / 2], so the offered rate is about
-- C * 1000 / (DELAY_MS + latency) requests/s: a fixed, moderate load instead of wrk's closed
-- loop as fast as it can go, which on a 2-core machine would measure the CPU the generator
-- takes from the proxy. The random spread keeps the connections from marching in step (all C
-- requests at once every DELAY_MS, which would measure their own queueing); the upper bound
-- means every connection sends within 3 * DELAY_MS / 2 of its last answer, so a stall that long
-- meets a request of every connection. Every request is a GET of URL's path plus "/<n>" (n
-- counts per thread), so it matches client2's prefix and no cache helps.
--
-- done() prints one machine-readable line, latencies in microseconds (wrk keeps every sample in
-- a 1 us histogram up to --timeout, so the percentiles are exact):
--   LBCTL-WRK requests=R issued=I responses=R2 non2xx=N connect=E read=E write=E timeout=E
--             status=E duration_us=D p50_us=P p99_us=P max_us=M
-- issued counts request() calls (wrk calls it right before writing each request, and once per
-- thread before connecting, which done() leaves out), responses and non2xx the response()
-- hook (every status outside 200-299 counts, unlike wrk's own "status" count of >= 400):
-- issued - responses were still unanswered when -d ended, which wrk itself counts nowhere.

local threads = {}
local delay_ms = 0
local base = "/"
local counter = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  delay_ms = tonumber(args[1] or "0") or 0
  base = wrk.path
  if string.sub(base, -1) ~= "/" then
    base = base .. "/"
  end
  issued = 0
  responses = 0
  non2xx = 0
  math.randomseed(os.time())
end

function delay()
  return math.floor(delay_ms * (0.5 + math.random()))
end

function request()
  counter = counter + 1
  issued = issued + 1
  return wrk.format("GET", base .. counter)
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local i, r, n = 0, 0, 0
  for _, t in ipairs(threads) do
    i = i + t:get("issued") - 1  -- wrk calls request() once per thread before connecting
    r = r + t:get("responses")
    n = n + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    "LBCTL-WRK requests=%d issued=%d responses=%d non2xx=%d connect=%d read=%d write=%d " ..
    "timeout=%d status=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, i, r, n, e.connect, e.read, e.write, e.timeout, e.status,
    summary.duration, latency:percentile(50.0), latency:percentile(99.0), latency.max))
end
