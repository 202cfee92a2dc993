-- wrk script for benchmarks/webhook_load.py: POST pre-signed LINE webhook bodies to /line/webhook.
--
--   [WEBHOOK_LOAD_RATE=R] wrk -t T -c C -d 30s --timeout 10s -s benchmarks/webhook_load.lua URL -- BODIES.tsv T
--
-- Without RATE each connection sends its next request as soon as the answer to the last one came
-- (closed loop: the throughput ceiling). With WEBHOOK_LOAD_RATE=R (requests/s over all threads) they are paced
-- on a fixed schedule, slot k of a thread at start + k/(R/T): delay() holds a free connection until
-- the next slot (LuaJIT's ffi reads CLOCK_MONOTONIC). A slot that finds no free connection is sent as
-- soon as one frees, so with too few connections this turns back into a closed loop: give it enough
-- connections (the answer's max latency x RATE) and check the achieved rate.
-- BODIES.tsv has one request a line: "<thread>\t<X-Line-Signature>\t<raw JSON body>". Each wrk thread
-- keeps its own lines and sends them in file order (wrapping round if it runs out), so the caller
-- knows exactly which bodies a thread can have sent from how many request() calls it made.
-- done() prints one line "WEBHOOK_LOAD_JSON {...}" with the latency distribution and per-thread counts.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local reqs = {}
local n = 0
local pos = 0
issued = 0
non2xx = 0
slice = 0

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } wl_timespec;
int clock_gettime(int clk_id, wl_timespec *tp);
]]
local ts = ffi.new("wl_timespec")
local function now_ms()
   ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local rate = tonumber(os.getenv("WEBHOOK_LOAD_RATE") or "")
local interval = nil  -- ms between slots of this thread, when paced
local next_slot = nil

function init(args)
   local path, nthreads = args[1], tonumber(args[2])
   if rate and rate > 0 then
      interval = 1000 * nthreads / rate
   end
   local url_path = wrk.path
   for line in io.lines(path) do
      local t, sig, body = line:match("^(%d+)\t([^\t]+)\t(.*)$")
      if t and tonumber(t) % nthreads == tid then
         n = n + 1
         reqs[n] = wrk.format("POST", url_path, {
            ["Host"] = wrk.headers["Host"],
            ["Content-Type"] = "application/json; charset=utf-8",
            ["User-Agent"] = "LineBotWebhook/2.0",
            ["X-Line-Signature"] = sig,
         }, body)
      end
   end
   slice = n
   if n == 0 then
      error("no request bodies for thread " .. tid .. " in " .. path)
   end
end

-- Defined only when paced: wrk then calls it before every request on every connection.
if rate and rate > 0 then function delay()
   local t = now_ms()
   if not next_slot then next_slot = t end
   local slot = next_slot
   next_slot = next_slot + interval
   if slot <= t then return 0 end
   return math.floor(slot - t + 0.5)
end end

function request()
   pos = pos + 1
   if pos > n then pos = 1 end
   issued = issued + 1
   return reqs[pos]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

local function q(x) return string.format("%.0f", x) end

function done(summary, latency, requests)
   local per = {}
   for _, t in ipairs(threads) do
      table.insert(per, string.format('{"tid":%d,"issued":%d,"non2xx":%d,"slice":%d}',
         t:get("tid"), t:get("issued"), t:get("non2xx"), t:get("slice")))
   end
   local e = summary.errors
   io.write("WEBHOOK_LOAD_JSON ", string.format(
      '{"duration_us":%s,"requests":%s,"bytes":%s,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%s,"mean":%s,"stdev":%s,"max":%s,"p50":%s,"p90":%s,"p99":%s,"p999":%s},' ..
      '"threads":[%s]}\n',
      q(summary.duration), q(summary.requests), q(summary.bytes),
      e.connect, e.read, e.write, e.status, e.timeout,
      q(latency.min), q(latency.mean), q(latency.stdev), q(latency.max),
      q(latency:percentile(50)), q(latency:percentile(90)), q(latency:percentile(99)),
      q(latency:percentile(99.9)),
      table.concat(per, ",")))
end
