-- lbctl_pace.lua: per-client pacing of HTTP requests (lbctl "mode: smooth").
--
-- Action `http-request lua.lbctl_pace <client> <rate> <burst>`:
--   every request of <client> gets a departure slot 1/<rate> seconds after the previous
--   request's slot and sleeps (core.msleep, which yields: no thread is blocked) until it.
--   A request whose wait would exceed <burst>/<rate> seconds (more than <burst> requests
--   already waiting) is not paced: it sets txn.lbctl_over = 1 and txn.lbctl_retry_after =
--   seconds until a slot frees (at least 1), and the frontend answers 429 with Retry-After.
--   A request that had to wait sets txn.lbctl_delayed = 1 (counted in the stick table).
--   Every paced request sets txn.lbctl_slot = its departure slot as a string, seconds since
--   the epoch with microseconds ("1700000000.250000"), for log-format lines and for
--   measuring how late requests reach a server after their slot (tests/test_smoothing.py).
-- The first request of an idle client leaves at once, so the backend sees at most rate + 1
-- requests of a client in any sliding 1 s window (the precision of nginx's limit_req).
-- A client is paced per frontend (its key is "<frontend>/<client>", as its stick table is).
-- State is per process and resets on reload (HAProxy re-reads this file).
-- Needs HAProxy 1.6+ built with Lua (core.register_action, core.now, core.msleep).
--
-- Runtime API command `lbctl waiting` (stats socket; core.register_cli, HAProxy 1.8+): one
-- line "<frontend>/<client> <n>" per client paced by this process, n = requests waiting now:
-- the departure slots reserved after the current time. A request whose client went away
-- while it slept keeps its slot, and is counted, until that slot's time has passed.

local slots = {}        -- "<frontend>/<client>" -> next free departure time, seconds (float)
local rates = {}        -- "<frontend>/<client>" -> its rate, requests/s (for `lbctl waiting`)
local EPSILON = 1e-6    -- seconds; absorbs float rounding of accumulated slots

local function now_s()
  local t = core.now()
  return t.sec + t.usec / 1000000
end

local function pace(txn, client, rate_s, burst_s)
  local rate = tonumber(rate_s)
  local burst = tonumber(burst_s)
  if rate == nil or rate <= 0 or burst == nil or burst < 0 then
    return
  end
  local key = txn.f:fe_name() .. "/" .. client
  local interval = 1 / rate
  local now = now_s()
  local slot = slots[key]
  if slot == nil or slot < now then
    slot = now
  end
  local wait = slot - now
  local max_wait = burst * interval
  if wait > max_wait + EPSILON then
    local retry = math.ceil(wait - max_wait)
    if retry < 1 then
      retry = 1
    end
    txn:set_var("txn.lbctl_over", 1)
    txn:set_var("txn.lbctl_retry_after", retry)
    return
  end
  slots[key] = slot + interval
  rates[key] = rate
  txn:set_var("txn.lbctl_slot", string.format("%.6f", slot))
  if wait > 0 then
    txn:set_var("txn.lbctl_delayed", 1)
    -- Never leave before the slot: round the sleep up to the next millisecond, then
    -- re-check, since the scheduler may wake us a little early relative to core.now().
    core.msleep(math.ceil(wait * 1000))
    local left = slot - now_s()
    while left > 0 do
      core.msleep(math.ceil(left * 1000))
      left = slot - now_s()
    end
  end
end

core.register_action("lbctl_pace", { "http-req" }, pace, 3)

-- Requests waiting per client: the slots reserved after now. With the next free slot at
-- now + x/rate, the reserved ones are at now + (x-1)/rate, now + (x-2)/rate, ... > now.
local function waiting(applet)
  local now = now_s()
  local lines = {}
  for key, slot in pairs(slots) do
    local ahead = (slot - now) * rates[key]
    local n = 0
    if ahead > 1 + EPSILON then
      n = math.ceil(ahead - EPSILON) - 1
    end
    lines[#lines + 1] = key .. " " .. string.format("%d", n)
  end
  table.sort(lines)
  applet:send(table.concat(lines, "\n") .. "\n")
end

core.register_cli({ "lbctl", "waiting" }, "lbctl waiting : requests held by lbctl_pace, per client", waiting)
