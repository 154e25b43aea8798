-- wrk script: the board's drag and drop (htmx POST /deals/{id}/move, form body, session cookie + CSRF header);
-- each request moves the next deal of this thread's share to the other stage and gets both columns back.
local counter = 0
local first, count, stage_a, stage_b, cookie, csrf, threads
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
  cookie = os.getenv("BENCH_COOKIE")
  csrf = os.getenv("BENCH_CSRF")
  threads = 2
end

function request()
  -- deals are split between threads by parity so two threads never race on one deal
  local i = (counter * threads + tid) % count
  local pass = math.floor((counter * threads + tid) / count)
  counter = counter + 1
  local to, from = stage_b, stage_a
  if pass % 2 == 1 then to, from = stage_a, stage_b end
  local body = "stage_id=" .. to .. "&from_stage_id=" .. from
  local headers = {["Cookie"] = cookie, ["X-CSRF-Token"] = csrf, ["HX-Request"] = "true",
                   ["Content-Type"] = "application/x-www-form-urlencoded"}
  return wrk.format("POST", "/deals/" .. (first + i) .. "/move", headers, body)
end
