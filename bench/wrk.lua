-- wrk script of bench/run.py: one request shape per run, configured from the environment, and a
-- JSON summary line on stdout that run.py parses.
--   BENCH_METHOD      GET, POST, PUT...                  (default GET)
--   BENCH_BODY_FILE   the request body, read once         (default: no body)
--   BENCH_HEADERS     "Name: value" lines, newline separated
--   BENCH_MARKER      when set, the body is generated per request with "%MARKER%" in the body
--                     file replaced by a marker unique in the run (thread number and counter)
--   BENCH_IDS_FILE    when set, the `"id": N` of every 200 response is collected and written
--                     there, one per line (the store scale check: every acknowledged write)
-- Errors: wrk counts every response with status > 399 (the same as a `response` hook counting
-- status >= 400, without a Lua call per response) plus its socket errors; 2xx and 3xx (206,
-- 304) are successes. The body is only buffered when BENCH_IDS_FILE asks for the ids.

local function read_file(path)
   local f = assert(io.open(path, "rb"))
   local data = f:read("*a")
   f:close()
   return data
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
   wrk.body = read_file(body_file)
end
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
   local name, value = line:match("^([^:]+):%s*(.*)$")
   if name then wrk.headers[name] = value end
end

local ids_file = os.getenv("BENCH_IDS_FILE")
local marker = os.getenv("BENCH_MARKER")
local threads = {}
local counter = 1

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

if marker and marker ~= "" then
   local template = wrk.body
   local sent = 0
   function request()
      sent = sent + 1
      local body = template:gsub("%%MARKER%%", marker .. "-" .. tid .. "-" .. sent)
      return wrk.format(nil, nil, nil, body)
   end
end

if ids_file and ids_file ~= "" then
   acked = {}
   function response(status, headers, body)
      if status == 200 then
         local id = body:match('"id"%s*:%s*(%d+)')
         if id then acked[#acked + 1] = id end
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   if ids_file and ids_file ~= "" then
      local out = assert(io.open(ids_file, "w"))
      for _, thread in ipairs(threads) do
         local ids = thread:get("acked")
         if ids then
            for _, id in ipairs(ids) do out:write(id, "\n") end
         end
      end
      out:close()
   end
   io.write(string.format(
      'BENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
      '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
