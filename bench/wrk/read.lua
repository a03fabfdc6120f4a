-- GET a random invoice of a list (wrk: bench/api.py passes the token, base path and id file).
function init(args)
  base = args[1]
  wrk.headers["Authorization"] = "token " .. args[2]
  ids = {}
  for line in io.lines(args[3]) do ids[#ids + 1] = line end
  math.randomseed(tonumber(args[4] or "1"))
end

function request()
  return wrk.format("GET", base .. "/" .. ids[math.random(1, #ids)])
end

done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_s": %.3f, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
