-- wrk script of `make bench-ingest`: POSTs one ~300-byte event (the file
-- named by EVENT_FILE) on keep-alive connections and prints one JSON line
-- with the numbers the benchmark table needs.
local f = assert(io.open(os.getenv("EVENT_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p90_us":%d,' ..
        '"p99_us":%d,"max_us":%d,"non2xx":%d,"connect_errors":%d,' ..
        '"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
