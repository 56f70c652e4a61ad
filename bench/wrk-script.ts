// The Lua script wrk runs for every scenario (written next to the spec by wrk.ts): the request each mode sends,
// the check of every answer, and a done() that prints the result as one JSON line. A TypeScript string so that
// `tsc` carries it into dist/bench with the rest.
//
// init(args), after wrk's args[0] (the URL): [1] mode, [2] body file, [3] tokens file ('-' for none), [4] expected
// substring, [5] forbidden substring ('-' for none), [6] number (rotate, cycle: first token index; count: answers to
// stop after), [7] the load CPU (-1 unknown), [8] USER_HZ, [9] a file with a fixed Authorization value ('-' for none;
// static and cycle), [10] the Content-Type ('-': application/json). Modes:
//   static  one request for every connection (Authorization from the tokens file's only line, if any): wrk's fast path
//   rotate  each request takes the next token of the file, from the given index, as its bearer token
//   chain   refresh: a pool of tokens; each request takes one, each answer gives its successor back
//   count   each request puts a new number into the body (where @@VALUE@@ is); stops after that many answers
//   cycle   each request puts the next token of the file, from the given index, into the body (where @@VALUE@@ is)
// Counters are globals, not locals: the main state's done() reads them from the thread's state (thread:get).
export const PLACEHOLDER = '@@VALUE@@';
export const RESULT_MARK = 'PORTCULLIS_WRK_RESULT ';
export const AMOUNT_MARK = 'PORTCULLIS_WRK_AMOUNT_REACHED';

export const WRK_SCRIPT = `
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function process_ticks() -- user + system CPU of this process (all threads, exited ones too), in clock ticks
  local i, ticks = 0, 0
  for field in slurp("/proc/self/stat"):match("%) (.*)"):gmatch("%S+") do
    i = i + 1
    if i == 12 or i == 13 then ticks = ticks + tonumber(field) end
    if i == 13 then break end
  end
  return ticks
end

function uptime() return tonumber(slurp("/proc/uptime"):match("^(%S+)")) end

function core_ticks(cpu) -- busy and total ticks of one CPU, from /proc/stat
  if cpu < 0 then return -1, -1 end
  local line = slurp("/proc/stat"):match("\\ncpu" .. cpu .. " ([^\\n]+)")
  if not line then return -1, -1 end
  local f = {}
  for n in line:gmatch("%d+") do f[#f + 1] = tonumber(n) end
  local total = 0
  for k = 1, 8 do total = total + (f[k] or 0) end -- user … steal; guest time is already in user
  return total - f[4] - (f[5] or 0), total
end

non2xx, bad, repeated, sent, answers = 0, 0, 0, 0, 0
sample = ""

local mode, expect, forbid, amount, stopped
-- wrk calls request() once before the run (for its first thread: we run one) only to check that it parses.
local verified = false
local tokens, next_token, pool, seen = {}, 1, {}, {}
local head, tail, body_head, body_tail

function init(args)
  mode, expect, forbid = args[1], args[4], args[5]
  local number = tonumber(args[6])
  core, hz = tonumber(args[7]), tonumber(args[8])
  local body = slurp(args[2])
  if args[3] ~= "-" then
    for line in io.lines(args[3]) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  end
  local content_type = (args[10] and args[10] ~= "-") and args[10] or "application/json"
  local authorization = (args[9] and args[9] ~= "-") and slurp(args[9]) or nil
  local start = "POST " .. wrk.path .. " HTTP/1.1\\r\\nHost: " .. wrk.headers["Host"] ..
    "\\r\\nContent-Type: " .. content_type .. "\\r\\n"
  if mode == "static" then
    wrk.method, wrk.body = "POST", body
    wrk.headers["Content-Type"] = content_type
    if tokens[1] then wrk.headers["Authorization"] = "Bearer " .. tokens[1] end
    if authorization then wrk.headers["Authorization"] = authorization end
  elseif mode == "cycle" then
    local at = assert(body:find("${PLACEHOLDER}", 1, true), "no placeholder in the body")
    head = start .. (authorization and ("Authorization: " .. authorization .. "\\r\\n") or "") .. "Content-Length: "
    body_head, body_tail = body:sub(1, at - 1), body:sub(at + ${PLACEHOLDER.length})
    next_token = number % #tokens + 1
    request = function()
      local t = tokens[next_token]
      if verified then
        next_token = next_token % #tokens + 1
        sent = sent + 1
      end
      verified = true
      local b = body_head .. t .. body_tail
      return head .. #b .. "\\r\\n\\r\\n" .. b
    end
  elseif mode == "rotate" then
    head = start .. "Content-Length: " .. #body .. "\\r\\nAuthorization: Bearer "
    tail = "\\r\\n\\r\\n" .. body
    next_token = number % #tokens + 1
    request = function()
      local t = tokens[next_token]
      if verified then
        next_token = next_token % #tokens + 1
        sent = sent + 1
      end
      verified = true
      return head .. t .. tail
    end
  else
    local at = assert(body:find("${PLACEHOLDER}", 1, true), "no placeholder in the body")
    head = start .. "Content-Length: "
    body_head, body_tail = body:sub(1, at - 1), body:sub(at + ${PLACEHOLDER.length})
    for i, t in ipairs(tokens) do pool[i], seen[t] = t, true end
    if mode == "count" then amount = number end
    request = function()
      local value
      if not verified then -- wrk's check that the request parses: look, take nothing
        verified = true
        value = mode == "count" and "0" or (pool[#pool] or "none")
      elseif mode == "count" then
        sent = sent + 1
        value = tostring(sent)
      else
        sent = sent + 1
        value = table.remove(pool) or "pool-exhausted"
      end
      local b = body_head .. value .. body_tail
      return head .. #b .. "\\r\\n\\r\\n" .. b
    end
  end
  cpu_start, wall_start = process_ticks(), uptime()
  core_busy_start, core_total_start = core_ticks(core)
end

function response(status, headers, body)
  answers = answers + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample == "" then sample = "HTTP " .. status .. ": " .. body:sub(1, 300) end
  elseif not body:find(expect, 1, true) or (forbid ~= "-" and body:find(forbid, 1, true)) then
    bad = bad + 1
    if sample == "" then sample = body:sub(1, 300) end
  elseif mode == "chain" then
    local successor = body:match('"refreshToken":"([^"]+)"')
    -- A grace-window replay answers with a successor it gave before: the chain would not be rotating.
    if seen[successor] then
      repeated = repeated + 1
      if sample == "" then sample = "a refresh answer repeated a token already received" end
    end
    seen[successor] = true
    pool[#pool + 1] = successor
  end
  if amount and not stopped and answers >= amount then
    stopped = true
    io.stderr:write("${AMOUNT_MARK}\\n") -- wrk's main thread sleeps the whole -d unless signalled
    wrk.thread:stop()
  end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

local function json_string(s)
  return '"' .. (s:gsub('[%c"\\\\\\128-\\255]', function(c) return string.format("\\\\u%04x", c:byte()) end)) .. '"'
end

function done(summary, latency, requests)
  local n = { non2xx = 0, bad = 0, repeated = 0, sent = 0 }
  local first_sample, cpu0, wall0, busy0, total0 = "", math.huge, math.huge, -1, -1
  local cpu, hz
  for _, t in ipairs(threads) do
    for k in pairs(n) do n[k] = n[k] + t:get(k) end
    if first_sample == "" then first_sample = t:get("sample") end
    cpu0, wall0 = math.min(cpu0, t:get("cpu_start")), math.min(wall0, t:get("wall_start"))
    busy0, total0, cpu, hz = t:get("core_busy_start"), t:get("core_total_start"), t:get("core"), t:get("hz")
  end
  local wall = uptime() - wall0
  local busy = (process_ticks() - cpu0) / hz / wall * 100
  local core_busy = -1
  local busy1, total1 = core_ticks(cpu)
  if busy0 >= 0 and total1 > total0 then core_busy = (busy1 - busy0) / (total1 - total0) * 100 end
  local e = summary.errors
  io.write("${RESULT_MARK}", string.format(
    '{"requests":%d,"durationUs":%d,"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"socket":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non2xx":%d,"bad":%d,"repeated":%d,"sent":%d,' ..
    '"busyPercent":%.1f,"coreBusyPercent":%.1f,"sample":%s}\\n',
    summary.requests, summary.duration, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, n.non2xx, n.bad, n.repeated, n.sent,
    busy, core_busy, json_string(first_sample)))
end
`;
