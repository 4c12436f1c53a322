-- wrk script for bench/load.py: requests from a file, one JSON line of results at the end.
-- Arguments: <requests file> <threads>
-- Each line of the file is "METHOD<TAB>path<TAB>signature or -<TAB>body"; thread t sends
-- lines t, t + threads, ... in order and starts over when it reaches the end.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  requests, index = {}, 0
  local n, lines = 0, 0
  for _ in io.lines(file) do lines = lines + 1 end
  for line in io.lines(file) do
    if n % nthreads == tid or lines < nthreads then  -- a file shorter than that: every thread sends it all
      local method, path, signature, body = line:match("^(%u+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      local headers = {}
      if signature ~= "-" then
        headers["Content-Type"] = "application/json"
        headers["x-twitter-webhooks-signature"] = signature
      else
        body = nil
      end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
