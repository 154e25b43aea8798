-- wrk script: each request moves the next deal of this thread's share to the other stage.
local counter = 0
local first, count, stage_a, stage_b, token, threads, prefix
local thread_no = 0

function setup(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  first = tonumber(os.getenv("BENCH_FIRST_DEAL"))
  count = tonumber(os.getenv("BENCH_DEALS"))
  stage_a = os.getenv("BENCH_STAGE_A")
  stage_b = os.getenv("BENCH_STAGE_B")
  token = os.getenv("BENCH_TOKEN")
  threads = 2
  prefix = os.getenv("BENCH_MOVE_PREFIX") or "/api/v1/deals/"
end

function request()
  -- deals are split between threads by parity so two threads never race on one deal
  local i = (counter * threads + tid) % count
  local pass = math.floor((counter * threads + tid) / count)
  counter = counter + 1
  local stage = (pass % 2 == 0) and stage_b or stage_a
  local body = '{"stage_id": ' .. stage .. '}'
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  return wrk.format("POST", prefix .. (first + i) .. "/move", headers, body)
end
