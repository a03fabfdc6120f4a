-- POST an invoice per request (wrk: bench/api.py passes the token and path as arguments).
local counter = 0
function init(args)
  path = args[1]
  wrk.method = "POST"
  wrk.headers["Authorization"] = "token " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  seed = tonumber(args[3] or "1")
  math.randomseed(seed)
end

function request()
  counter = counter + 1
  local body = string.format('{"amount": "0.00%06d", "metadata": {"orderId": "wrk-%d-%d"}}',
    math.random(1000, 999999), seed, counter)
  return wrk.format(nil, path, nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_s": %.3f, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
