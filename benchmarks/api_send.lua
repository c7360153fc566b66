-- wrk script for benchmarks/api_send.py: POST the JSON body in $BENCH_BODY_FILE with the key
-- in $BENCH_API_KEY, count 2xx and other answers, and stop each thread right after its first
-- answer past $BENCH_SECONDS, noting it in $BENCH_DONE_FILE. Run with as many threads as
-- connections (one connection per thread): a stopped thread has nothing in flight, so every
-- request sent was answered and the benchmark can match 2xx answers to rows exactly.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")

local function now()
   ffi.C.gettimeofday(tv, nil)
   return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   file:close()
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_API_KEY")
   started = now()
   deadline = started + tonumber(os.getenv("BENCH_SECONDS"))
   stopped = 0
   ok = 0
   refused = 0
   first_refusal = ""
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      refused = refused + 1
      if first_refusal == "" then
         first_refusal = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
   if stopped == 0 and now() >= deadline then
      stopped = now()
      local file = assert(io.open(os.getenv("BENCH_DONE_FILE"), "a"))
      file:write("stopped\n")
      file:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local total_ok, total_refused, example = 0, 0, ""
   local first, last = math.huge, 0
   for _, thread in ipairs(threads) do
      total_ok = total_ok + thread:get("ok")
      total_refused = total_refused + thread:get("refused")
      first = math.min(first, thread:get("started"))
      last = math.max(last, thread:get("stopped"))
      if example == "" then
         example = thread:get("first_refusal")
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH ok=%d refused=%d connect=%d read=%d write=%d timeout=%d us=%d\n",
      total_ok, total_refused, e.connect, e.read, e.write, e.timeout,
      math.floor((last - first) * 1e6)))
   if example ~= "" then
      io.write("BENCH first refusal: " .. example .. "\n")
   end
end
