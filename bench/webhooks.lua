-- Replays pre-signed Stripe webhooks from BENCH_FILE (one "body<TAB>signature" per line); each wrk thread
-- takes every Nth line so no two threads send the same event id.
local counter = 0
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs = {}
local i = 0

function init(args)
  local n = 0
  for line in io.lines(os.getenv("BENCH_FILE")) do
    if n % threads == tid then
      local body, sig = line:match("^(.-)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", os.getenv("BENCH_HOOK_PATH") or "/hooks/payments/stripe",
        {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
    end
    n = n + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
