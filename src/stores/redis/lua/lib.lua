-- Lua shared by every script: key names, the state machine (setState keeps every index
-- right), dependency release and events. Outcomes are decided in TypeScript
-- (src/engine/): these scripts only apply them atomically, fenced by the lease token.
-- Each operation is header.ts's constants + this file + `begin(KEYS, ARGV)` + its own
-- file (claim.lua, finish.lua, ...), so one call does a whole batch atomically.
--
-- Calling convention: KEYS[1] is the event stream (it routes the call on Cluster; every
-- other key shares its hash tag). ARGV[1] key base `{prefix}:`, ARGV[2] now (ms),
-- ARGV[3] default retention age ('' = none), ARGV[4] most finished jobs kept per queue and
-- state ('' = no cap), ARGV[5] event stream length; script arguments start at ARGV[6].
--
-- Numbers written back to Redis go through fmt(): Lua would print large integers (ready
-- scores reach 2^53) in %.14g and lose digits.
--
-- A job is a small hash, holding its data and result in chunks (putValue) unless they are
-- longer than CHUNKS * CHUNK bytes, plus string keys for longer values and its errors: every
-- hash value stays within a listpack's limit, so Redis stores the hash as a compact
-- listpack, about a third of the memory of a hashtable-encoded one.
--
-- Events are buffered and written when the script ends; consecutive events that differ only
-- in their job id share one stream entry (ids joined by newlines, at most EVENT_GROUP), so a
-- batch of 1,000 completions costs 20 XADDs, not 1,000.
--
-- Globals this file uses but does not define come from the generated header (header.ts):
-- MAX_LOG, EVENT_GROUP, CHUNK, CHUNKS, CAN_CANCEL, CAN_PROMOTE, CAN_RETRY, F, FSET, FOR_FINISH,
-- FOR_REMOVAL, BROKEN_PRE, BROKEN_POST and the per-operation sizes.

-- Per call, set by begin(): the calling convention's head, and the arguments.
local P, NOWS, NOW, MAXAGE, MAXDONE, EVMAX, EVENTS, ARGS
local A = 6
-- cjson.null, set by begin(): Redis Functions see cjson only when called, not when loaded.
local NULL
local READY_SPAN = 4398046511104 -- 2^42: ready score = (1000 - priority) * 2^42 + arrival
local FINISHED = {completed = true, failed = true, canceled = true}
-- The set that holds a queue's jobs in a state, for counting them: `st:<state>:<q>` by
-- creation sequence, except active jobs, which only the lease set holds (by lease end):
-- one sorted-set entry written and removed less per job run.
local function stateKey(st, q)
  if st == 'active' then return P .. 'lease:' .. q end
  return P .. 'st:' .. st .. ':' .. q
end
local UNFINISHED = {'pending', 'scheduled', 'deferred', 'queued', 'active'}

-- string.format costs ~0.8 µs; a batch formats the same lease deadline or expiry for every
-- job, so the last result is kept.
local fmtN, fmtS
local function fmt(n)
  if n ~= fmtN then fmtN, fmtS = n, string.format('%.0f', n) end
  return fmtS
end
local function nz(v) if v == nil or v == NULL or v == false then return nil end return v end
local function opt(s) if s == nil or s == '' then return nil end return s end
local function num(s) if s == nil or s == false or s == '' then return nil end return tonumber(s) end

local wake, cfgs
-- Queues that got a newly scheduled job in this call: their marker is always written, so
-- waiters learn the new due time from the claim it causes.
local dueWake
local function cfg(q)
  local c = cfgs[q]
  if c == nil then
    local raw = redis.call('GET', P .. 'config:' .. q)
    if raw then c = cjson.decode(raw) else c = {} end
    cfgs[q] = c
  end
  return c
end

-- Adds d to a hash field that counts something; a count that reaches 0 is deleted.
local function addCount(key, field, d)
  if redis.call('HINCRBY', key, field, d) <= 0 then redis.call('HDEL', key, field) end
end

-- Deferred writes. The hot scripts (enqueue, claim, finish, and maintain's removals) set
-- BATCH: their sorted-set writes go out as one variadic ZADD/ZREM per key (per run of the
-- same command, so the order per key holds), name counters as one HINCRBY per name,
-- arrival numbers as one SET per queue, removed jobs' keys as one DEL. Each redis.call
-- costs about 2 µs of Lua glue before the command itself, so this takes a batch of 1,000
-- from ~27,000 calls to ~8,000. A script that sets BATCH must not read a sorted set it has
-- written before flushDeferred() (claim flushes after promoting, and skips its own
-- deferred removals by position).
local BATCH = false
local zruns, zkeys
local function zwrite(cmd, key, score, id)
  if not BATCH then
    if score then redis.call(cmd, key, score, id) else redis.call(cmd, key, id) end
    return
  end
  local runs = zruns[key]
  if not runs then runs = {}; zruns[key] = runs; zkeys[#zkeys + 1] = key end
  local r = runs[#runs]
  if not r or r.cmd ~= cmd or #r.args >= 4000 then r = {cmd = cmd, args = {}}; runs[#runs + 1] = r end
  if score then r.args[#r.args + 1] = score end
  r.args[#r.args + 1] = id
end
local function zadd(key, score, id) zwrite('ZADD', key, score, id) end
local function zrem(key, id) zwrite('ZREM', key, nil, id) end

local nameDelta
local function countName(q, name, d)
  if not BATCH then addCount(P .. 'names:' .. q, name, d) return end
  local t = nameDelta[q]
  if not t then t = {}; nameDelta[q] = t end
  t[name] = (t[name] or 0) + d
end

-- Arrival numbers of ready jobs: one INCRBY per queue and batch. They must stay below 2^42
-- (the ready score's priority band), so once past 2^41 the counter restarts the next time
-- the ready set is empty; at a million jobs a second that point is 25 days away.
local arrivals
local function nextArrival(q)
  local a = arrivals[q]
  if a == nil or not BATCH then
    local sk = P .. 'rseq:' .. q
    a = redis.call('INCR', sk)
    if a > 2199023255552 and redis.call('ZCARD', P .. 'ready:' .. q) == 0 then
      a = 1
      redis.call('SET', sk, 1)
    end
    if BATCH then arrivals[q] = {first = a, n = 1} end
    return a
  end
  -- Later jobs of the batch count on from the first; the counter catches up in flushDeferred.
  a.n = a.n + 1
  return a.first + a.n - 1
end

-- A grouped job's turn (see engine/fair-turns.ts): one past the later of the line's head
-- (the next ready job at this priority; the job's own arrival number when none waits) and
-- its group's last turn, kept in the hash fair:<queue> as "<priority>:<group>". The head is
-- read from the ready set; within a batch, entries not yet written leave it a little behind,
-- which only moves the turn earlier by what the batch added.
-- The arrival number of the next ready job at this priority, or nil when none waits.
local function lineHead(q, priority)
  local band = (1000 - priority) * READY_SPAN
  local first = redis.call('ZRANGE', P .. 'ready:' .. q, fmt(band), '(' .. fmt(band + READY_SPAN), 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
  return first[2] and (tonumber(first[2]) - band) or nil
end

local function fairArrival(q, priority, group)
  local next = nextArrival(q)
  -- No job waits at this priority (as far as this call's reads see): the line starts where the
  -- arrival numbers stood before this batch, for every job of the batch alike.
  local a = arrivals[q]
  local from = lineHead(q, priority) or ((BATCH and a) and (a.first - 1) or (next - 1))
  local key, field = P .. 'fair:' .. q, priority .. ':' .. group
  -- "<last>:<used>": a group of weight w (groupWeights) puts up to w jobs on one turn while
  -- that turn is still ahead of the head.
  local v = redis.call('HGET', key, field)
  local last, used
  if v then last, used = string.match(v, '^(%d+):(%d+)$'); last, used = tonumber(last), tonumber(used) end
  local weights = nz(cfg(q).groupWeights)
  local w = (weights and tonumber(nz(weights[group]))) or 1
  local turn
  if last and last > from and used < w then
    turn, used = last, used + 1
  else
    turn, used = math.max(from, last or from) + 1, 1
  end
  redis.call('HSET', key, field, fmt(turn) .. ':' .. used)
  return turn
end

-- Keys of removed jobs, deleted together.
local dropped
local function drop(...)
  if not BATCH then redis.call('DEL', ...) return end
  for _, k in ipairs({...}) do dropped[#dropped + 1] = k end
end

local function flushDeferred()
  for i = 1, #dropped, 4000 do redis.call('DEL', unpack(dropped, i, math.min(i + 3999, #dropped))) end
  dropped = {}
  for _, key in ipairs(zkeys) do
    for _, r in ipairs(zruns[key]) do redis.call(r.cmd, key, unpack(r.args)) end
  end
  zruns, zkeys = {}, {}
  for q, t in pairs(nameDelta) do
    local nk = P .. 'names:' .. q
    for name, d in pairs(t) do
      if d ~= 0 then addCount(nk, name, d) end
    end
  end
  nameDelta = {}
  for q, a in pairs(arrivals) do
    if a.n > 1 then redis.call('INCRBY', P .. 'rseq:' .. q, a.n - 1) end
  end
  arrivals = {}
end

local NUMERIC = {priority = true, runAt = true, attempt = true, maxAttempts = true, resultTtlMs = true,
  failureTtlMs = true, finishedAt = true, createdAt = true, startBy = true}
-- Fields a job's hash leaves out at these values (enqueue.lua).
local function defaults(j)
  if j.priority == nil then j.priority = 0 end
  if j.maxAttempts == nil then j.maxAttempts = 1 end
  return j
end


-- The job with only these fields (the first must be 'state': it tells a missing job).
local function loadOnly(id, fields)
  local v = redis.call('HMGET', P .. 'job:' .. id, unpack(fields))
  if not v[1] then return nil end
  local j = {id = id}
  for i, f in ipairs(fields) do
    if v[i] then
      if NUMERIC[f] then j[f] = tonumber(v[i]) else j[f] = v[i] end
    end
  end
  return defaults(j)
end
local function load(id) return loadOnly(id, F) end

-- load() from a whole hash (claim reads it anyway to return it): the job, and the flat
-- HGETALL list itself.
local function loadAll(id)
  local h = redis.call('HGETALL', P .. 'job:' .. id)
  if #h == 0 then return nil, nil end
  local j = {id = id}
  for k = 1, #h, 2 do
    local f = h[k]
    if FSET[f] then
      if NUMERIC[f] then j[f] = tonumber(h[k + 1]) else j[f] = h[k + 1] end
    elseif f == 'message' or f == 'nerr' or f == 'logSeq' or f == 'data' or f == 'progress' then
      j['has_' .. f] = true
    end
  end
  return defaults(j), h
end

-- A value (data, result) up to CHUNKS chunks of at most CHUNK bytes goes in the hash (sets),
-- as fields `<field>`, `<field>.1`, `<field>.2`, ...: each within a listpack's value limit, so
-- the hash stays compact, and a claim's HGETALL reads it with no GET. A chunk never ends
-- inside a UTF-8 character (a client decodes each reply string on its own). A longer value
-- goes to its own key. Returns how many fields it wrote (0: its own key).
local function putValue(id, field, value, sets)
  local n = #value
  if n <= CHUNK then
    sets[#sets + 1] = field
    sets[#sets + 1] = value
    return 1
  end
  if n <= CHUNK * CHUNKS then
    local parts, i = {}, 1
    while i <= n and #parts < CHUNKS do
      local e = i + CHUNK - 1
      if e >= n then
        e = n
      else
        -- 0x80-0xBF continue a character: the next chunk must not start with one.
        while e > i and string.byte(value, e + 1) >= 128 and string.byte(value, e + 1) < 192 do e = e - 1 end
      end
      parts[#parts + 1] = string.sub(value, i, e)
      i = e + 1
    end
    if i > n then
      sets[#sets + 1] = field
      sets[#sets + 1] = parts[1]
      for k = 2, #parts do
        sets[#sets + 1] = field .. '.' .. (k - 1)
        sets[#sets + 1] = parts[k]
      end
      return #parts
    end
  end
  redis.call('SET', P .. field .. ':' .. id, value)
  return 0
end

-- putValue over a value the job may already hold (in the hash or its own key): the fields
-- and key the new value does not write are deleted (dels).
local function replaceValue(id, field, value, sets, dels)
  local written = putValue(id, field, value, sets)
  if written > 0 then redis.call('DEL', P .. field .. ':' .. id) else dels[#dels + 1] = field end
  for k = math.max(written, 1), CHUNKS - 1 do dels[#dels + 1] = field .. '.' .. k end
end

-- Finished jobs per queue in this call (Store.history): one HINCRBY per queue and outcome
-- at commit, into a hash per queue and day that expires after two days.
local tallies
local events
local function sameExtra(a, b)
  if a == b then return true end
  if not a or not b or #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end
local function emit(t, q, id, extra)
  if t == 'completed' or t == 'failed' then
    local c = tallies[q]
    if not c then c = {completed = 0, failed = 0}; tallies[q] = c end
    c[t] = c[t] + 1
  end
  local g = events[#events]
  if id and g and g.t == t and g.q == q and #g.ids > 0 and #g.ids < EVENT_GROUP and sameExtra(g.extra, extra) then
    g.ids[#g.ids + 1] = id
    return
  end
  events[#events + 1] = {t = t, q = q, extra = extra, ids = {id}}
end

local handOff
-- Queues this call found no parked worker on (handFresh): handOff skips them.
local noneParked

-- Ends every writing script: hands ready work to parked waiters, writes the buffered events,
-- then wakes blocked waiters of every queue that got ready (or newly scheduled) work.
local function commit()
  flushDeferred()
  -- A queue whose ready work all went to parked workers needs no marker: a waiter woken by
  -- it would find nothing (and the worker handed the work would wake a second time).
  local handedAll = {}
  for q in pairs(wake) do handedAll[q] = handOff(q) end
  flushDeferred()
  for _, g in ipairs(events) do
    local args = {'XADD', EVENTS, 'MAXLEN', '~', EVMAX, '*', 't', g.t, 'q', g.q, 'a', NOWS}
    if #g.ids > 0 then args[#args + 1] = 'j'; args[#args + 1] = table.concat(g.ids, '\n') end
    if g.extra then for i = 1, #g.extra do args[#args + 1] = g.extra[i] end end
    redis.call(unpack(args))
    -- Cancels and removals also go to the control stream: a Worker reads only that one, so
    -- its blocking read does not wake for every other job's events (see wakeups.ts).
    if CONTROL_EVENTS[g.t] then
      args[2] = P .. 'control'
      args[5] = CONTROL_MAXLEN
      redis.call(unpack(args))
    end
  end
  local minute = math.floor(NOW / 60000) * 60000
  for q, c in pairs(tallies) do
    local k = P .. 'minutes:' .. q .. ':' .. fmt(math.floor(NOW / 86400000) * 86400000)
    -- The expiry moves on with the first count of each minute, not with every finish: a
    -- call per finish saved, and the key still lives two days past its last minute.
    local first = false
    if c.completed > 0 then first = redis.call('HINCRBY', k, fmt(minute) .. ':c', c.completed) == c.completed end
    if c.failed > 0 then first = redis.call('HINCRBY', k, fmt(minute) .. ':f', c.failed) == c.failed or first end
    if first then redis.call('PEXPIRE', k, 172800000) end
  end
  for q in pairs(wake) do
    -- Approximate trimming: an exact MAXLEN 1 costs ~20 µs per XADD (measured), and
    -- waiters only ever read past the newest marker they saw.
    if not handedAll[q] or dueWake[q] then redis.call('XADD', P .. 'marker:' .. q, 'MAXLEN', '~', '100', '*', 'w', '1') end
  end
  -- Written: a script that commits twice (finish-claim) must not write anything twice.
  wake, dueWake, events, tallies = {}, {}, {}, {}
end

local function verdict(pstate, policy)
  if pstate == 'completed' then return 'done' end
  if not pstate or pstate == 'failed' or pstate == 'canceled' then
    if policy == 'ignore' then return 'done' end
    return 'broken'
  end
  return 'wait'
end

local function brokenMsg(pid) return BROKEN_PRE .. pid .. BROKEN_POST end

local function depList(j)
  if not j.dependsOn or j.dependsOn == '[]' then return {} end
  return cjson.decode(j.dependsOn)
end

-- 'done' | 'wait' (and how many wait) | 'broken' and the first broken dependency id
local function depsVerdict(deps, policy)
  local waiting = 0
  for _, d in ipairs(deps) do
    local v = verdict(redis.call('HGET', P .. 'job:' .. d, 'state'), policy)
    if v == 'broken' then return 'broken', d end
    if v == 'wait' then waiting = waiting + 1 end
  end
  if waiting > 0 then return 'wait', nil, waiting end
  return 'done'
end

local function expiryFor(to, j)
  local c = cfg(j.queue)
  local ttl
  if to == 'completed' then ttl = j.resultTtlMs or nz(c.resultTtlMs) else ttl = j.failureTtlMs or nz(c.failureTtlMs) end
  if ttl ~= nil then return NOW + ttl end
  if MAXAGE then return NOW + MAXAGE end
  return nil
end

-- Takes a job out of the indexes of its current state.
local function leave(id, j)
  local from, q = j.state, j.queue
  if from == nil then return end
  if from == 'queued' then
    zrem(P .. 'ready:' .. q, id)
  elseif from == 'scheduled' then
    zrem(P .. 'sched:' .. q, id)
  elseif from == 'active' then
    zrem(P .. 'lease:' .. q, id)
    -- Active jobs per group are counted only while the queue limits them (two writes per
    -- job saved otherwise); configure drops the counts when the limit goes.
    if j.groupKey and nz(cfg(q).groupConcurrency) then addCount(P .. 'groups:' .. q, j.groupKey, -1) end
  elseif FINISHED[from] then
    zrem(P .. 'expiry', id)
  end
  -- Active jobs have no per-state set: the lease set holds exactly them (stateKey).
  if from ~= 'active' then zrem(P .. 'st:' .. from .. ':' .. q, id) end
end

local releaseDependents

-- Moves a job to a state, keeping every index right (MemoryStore.setState). sets/dels are
-- more hash fields to write/delete, folded into the one HSET/HDEL this makes.
local function setState(id, j, to, sets, dels)
  local from, q = j.state, j.queue
  local jk = P .. 'job:' .. id
  sets = sets or {}
  dels = dels or {}
  leave(id, j)
  -- A job that leaves 'active' keeps its stale token and leaseUntil fields: every write
  -- that trusts them checks state == 'active' first, and the codec shows leaseUntil only
  -- for active jobs. That saves an HDEL per finished job.
  if from == 'active' then j.token = nil end
  if to ~= 'active' then zadd(P .. 'st:' .. to .. ':' .. q, j.cseq, id) end
  local wasUnfinished = from ~= nil and not FINISHED[from]
  local isUnfinished = not FINISHED[to]
  if wasUnfinished ~= isUnfinished then
    countName(q, j.name, isUnfinished and 1 or -1)
  end
  j.state = to
  sets[#sets + 1] = 'state'
  sets[#sets + 1] = to
  if to == 'queued' then
    if j.runAt then dels[#dels + 1] = 'runAt' end
    j.runAt = nil
    local arrival = j.groupKey and fairArrival(q, j.priority, j.groupKey) or nextArrival(q)
    zadd(P .. 'ready:' .. q, fmt((1000 - j.priority) * READY_SPAN + arrival), id)
    wake[q] = true
  elseif to == 'scheduled' then
    zadd(P .. 'sched:' .. q, fmt(j.runAt), id)
    -- Waiters learn the new due time from the claim this wake-up causes.
    wake[q] = true
    dueWake[q] = true
  elseif to == 'active' then
    zadd(P .. 'lease:' .. q, fmt(j.leaseUntil), id)
    if j.groupKey and nz(cfg(q).groupConcurrency) then addCount(P .. 'groups:' .. q, j.groupKey, 1) end
  end
  local finished = FINISHED[to]
  if finished then
    local exp = expiryFor(to, j)
    sets[#sets + 1] = 'finishedAt'
    sets[#sets + 1] = NOWS
    if exp then
      sets[#sets + 1] = 'expiresAt'
      sets[#sets + 1] = fmt(exp)
      zadd(P .. 'expiry', fmt(exp), id)
    elseif FINISHED[from] then
      dels[#dels + 1] = 'expiresAt'
    end
    j.finishedAt = NOW
  elseif FINISHED[from] then
    dels[#dels + 1] = 'expiresAt'
  end
  redis.call('HSET', jk, unpack(sets))
  if #dels > 0 then redis.call('HDEL', jk, unpack(dels)) end
  -- 'kids' marks a job others depend on: most jobs have none, and skip the lookup.
  if finished and j.kids then releaseDependents(id) end
end

-- Leases a ready job to a worker (claim, handOff): m is its HGETALL list as read, which
-- becomes the reply. The client knows what was just written (token, attempt + 1, the
-- times) and fills it in, so those fields do not cross the wire twice.
-- `sets` (optional): more hash fields to write with the lease's (a job added in this call).
local function take(id, j, m, worker, token, leaseUntil, sets)
  j.leaseUntil = leaseUntil
  sets = sets or {}
  local k = #sets
  sets[k + 1], sets[k + 2], sets[k + 3], sets[k + 4], sets[k + 5] = 'token', token, 'attempt', (j.attempt or 0) + 1, 'startedAt'
  sets[k + 6], sets[k + 7], sets[k + 8], sets[k + 9], sets[k + 10] = NOWS, 'workerId', worker, 'leaseUntil', fmt(leaseUntil)
  -- A new attempt starts at progress 0 with no message: absent fields.
  local dels = {}
  if j.has_message then dels[#dels + 1] = 'message' end
  if j.has_progress then dels[#dels + 1] = 'progress' end
  setState(id, j, 'active', sets, dels)
  emit('active', j.queue, id, {'s', 'active'})
  local logs = '0'
  if j.has_logSeq then logs = tostring(redis.call('LLEN', P .. 'logs:' .. id)) end
  -- The hash does not hold its id (jobs written before it did, harmlessly twice then).
  m[#m + 1] = 'id'; m[#m + 1] = id
  m[#m + 1] = 'logCount'; m[#m + 1] = logs
  if j.has_nerr then m[#m + 1] = 'errors'; m[#m + 1] = redis.call('GET', P .. 'errors:' .. id) or '[]' end
  if not j.has_data then m[#m + 1] = 'data'; m[#m + 1] = redis.call('GET', P .. 'data:' .. id) or 'null' end
  return m
end

-- A queue whose claims a hand-over may make: not paused, no concurrency, rate or group limit.
local function handsOver(c)
  return not (c.paused == true or nz(c.concurrency) or nz(c.rateLimit) or nz(c.groupConcurrency) or nz(c.groupRateLimit))
end

-- Sends a job leased for registration r (token r.t .. n) down its store's hand stream hk;
-- m: the job's fields (its HGETALL list, and what take() added).
local function handTo(hk, r, n, m)
  redis.call('XADD', hk, 'MAXLEN', '~', '1000', '*', '_w', r.w, '_t', r.t .. n, '_a', NOWS, '_l', r.l, unpack(m))
end

-- A registration served: its hand stream lives on a while, and it leaves every queue.
local function unpark(reg, r, hk)
  redis.call('PEXPIRE', hk, 60000)
  for _, pq in ipairs(r.q) do redis.call('ZREM', P .. 'idle:' .. pq, reg) end
end

-- handOff for the one job an add is writing (enqueue.lua; h: the fields it writes), when it
-- would be the only ready job of its queue: leased to the parked worker as it is written,
-- with no ready-set entries added and removed again and no read of the hash just written.
-- Only where handOff would hand it over: a live registration that takes its name, a queue
-- without pause or limits, no latest start. Returns false, writing nothing, otherwise.
local function handFresh(id, j, h)
  local q = j.queue
  local c = cfg(q)
  if not handsOver(c) then return false end
  local regs = redis.call('ZRANGEBYSCORE', P .. 'idle:' .. q, NOWS, '+inf', 'LIMIT', 0, 1)
  if #regs == 0 then
    -- Nobody is parked: the hand-over at the end of the script need not look again.
    noneParked[q] = true
    return false
  end
  local r = cjson.decode(regs[1])
  if r.m then
    local takes = false
    for _, name in ipairs(r.m) do if name == j.name then takes = true end end
    if not takes then return false end
  end
  if redis.call('ZCARD', P .. 'ready:' .. q) > 0 then return false end
  -- The reply lists what the hash holds, as HGETALL would (take adds the rest).
  local m = {}
  for i = 1, #h do m[i] = h[i] end
  m[#m + 1] = 'state'; m[#m + 1] = 'queued'
  for k = 1, #h, 2 do if h[k] == 'data' then j.has_data = true end end
  local hk = P .. 'hand:' .. r.s
  take(id, j, m, r.w, r.t .. 1, NOW + r.l, h)
  handTo(hk, r, 1, m)
  unpark(regs[1], r, hk)
  return true
end

-- Work became ready in q: lease it to workers parked on q (a claim that found nothing
-- registered them in idle:<q>, JSON {t: token base, s: store, w: worker, n: limit, l: lease
-- ms, q: queues, m: job names or absent}) and send it down their store's hand stream, which their
-- blocking read is watching: the wake-up carries the job, with no claim after it. Only
-- queues without limits take this path (paused, concurrency, rate and group limits are the
-- claim's to decide); a job the claim would treat specially (past its latest start, or a
-- name the worker does not take) stops it. A registration serves one hand-over, then leaves every queue it was parked on.
-- Returns true when parked workers took every ready job of q (commit then writes no marker).
handOff = function(q)
  if noneParked[q] then return false end
  -- One read when nobody is parked (every enqueue pays it): live registrations only; the
  -- expired ones are dropped by maintain.
  local regs = redis.call('ZRANGEBYSCORE', P .. 'idle:' .. q, NOWS, '+inf', 'LIMIT', 0, HANDOFF_REGS)
  if #regs == 0 then return false end
  local c = cfg(q)
  if not handsOver(c) then return false end
  local rkey = P .. 'ready:' .. q
  local handed = false
  for _, reg in ipairs(regs) do
    local r = cjson.decode(reg)
    local ids = redis.call('ZRANGE', rkey, 0, r.n - 1)
    if #ids == 0 then return handed end
    local hk = P .. 'hand:' .. r.s
    local given = 0
    local names = nil
    if r.m then
      names = {}
      for _, name in ipairs(r.m) do names[name] = true end
    end
    for _, id in ipairs(ids) do
      local j, m = loadAll(id)
      if not j or j.state ~= 'queued' or (j.startBy and j.startBy <= NOW) or (names and not names[j.name]) then break end
      given = given + 1
      take(id, j, m, r.w, r.t .. given, NOW + r.l)
      handTo(hk, r, given, m)
    end
    if given == 0 then return false end
    unpark(reg, r, hk)
    -- The next registration must not see the jobs just taken.
    flushDeferred()
    handed = true
    -- It took every ready job there was, with room to spare: none is left.
    if given < r.n then return given == #ids end
  end
  return false
end

local function appendError(id, j, message, stack)
  local e = {attempt = j.attempt or 0, message = message, at = NOW}
  if stack then e.stack = stack end
  local entry = cjson.encode(e)
  local ek = P .. 'errors:' .. id
  local cur = redis.call('GET', ek)
  if cur then cur = string.sub(cur, 1, -2) .. ',' .. entry .. ']' else cur = '[' .. entry .. ']' end
  redis.call('SET', ek, cur)
  redis.call('HINCRBY', P .. 'job:' .. id, 'nerr', 1)
end

local function failWith(id, j, message)
  appendError(id, j, message, nil)
  setState(id, j, 'failed')
  emit('failed', j.queue, id, {'s', 'failed', 'e', message})
end

-- A waiting job past its latest start (expiresIn / expiresAt) ends canceled, never run.
local function expire(id, j)
  setState(id, j, 'canceled', {'message', 'expired'}, {'workerId'})
  emit('canceled', j.queue, id, {'s', 'canceled', 'm', 'expired'})
end

local function readyState(runAt)
  if runAt and runAt > NOW then return 'scheduled' end
  return 'queued'
end

releaseDependents = function(pid)
  local ck = P .. 'children:' .. pid
  local kids = redis.call('SMEMBERS', ck)
  if #kids == 0 then return end
  local pstate = redis.call('HGET', P .. 'job:' .. pid, 'state')
  redis.call('DEL', ck)
  for _, cid in ipairs(kids) do
    local c = load(cid)
    if c and c.state == 'deferred' then
      if verdict(pstate, c.onParentFailure) == 'broken' then
        failWith(cid, c, brokenMsg(pid))
      elseif c.waitingOn then
        -- Counted down: no look at the other dependencies (a broken one failed it already).
        local left = tonumber(c.waitingOn) - 1
        if left <= 0 then
          setState(cid, c, readyState(c.runAt), nil, {'waitingOn'})
          emit('promoted', c.queue, cid, {'s', c.state})
        else
          redis.call('HSET', P .. 'job:' .. cid, 'waitingOn', left)
        end
      else
        local v = depsVerdict(depList(c), c.onParentFailure)
        if v == 'broken' then
          failWith(cid, c, brokenMsg(pid))
        elseif v == 'done' then
          setState(cid, c, readyState(c.runAt))
          emit('promoted', c.queue, cid, {'s', c.state})
        end
      end
    end
  end
end

local function removeJob(id, j)
  leave(id, j)
  if not FINISHED[j.state] then countName(j.queue, j.name, -1) end
  drop(P .. 'job:' .. id, P .. 'logs:' .. id, P .. 'data:' .. id, P .. 'result:' .. id, P .. 'errors:' .. id)
  for _, d in ipairs(depList(j)) do redis.call('SREM', P .. 'children:' .. d, id) end
  emit('removed', j.queue, id, nil)
  -- Children waiting on a removed job see it as canceled.
  if j.kids then releaseDependents(id) end
end

-- Moves a finished job to another queue (a dead-letter queue, or back from one): its
-- per-state set and retention follow the new queue; originalQueue names where it failed.
-- Finished jobs only (an active job's lease entry would have to move too).
local function changeQueue(id, j, to)
  local from, jk = j.queue, P .. 'job:' .. id
  local orig = redis.call('HGET', jk, 'originalQueue')
  zrem(P .. 'st:' .. j.state .. ':' .. from, id)
  zadd(P .. 'st:' .. j.state .. ':' .. to, j.cseq, id)
  redis.call('SADD', P .. 'queues', to)
  j.queue = to
  local exp = expiryFor(j.state, j)
  if exp then
    zadd(P .. 'expiry', fmt(exp), id)
    redis.call('HSET', jk, 'expiresAt', fmt(exp))
  else
    zrem(P .. 'expiry', id)
    redis.call('HDEL', jk, 'expiresAt')
  end
  if orig == to then
    redis.call('HDEL', jk, 'originalQueue')
    redis.call('HSET', jk, 'queue', to)
  else
    redis.call('HSET', jk, 'queue', to, 'originalQueue', orig or from)
  end
end

local function applyFailure(id, j, state, runAt, message)
  if state == 'failed' then
    setState(id, j, 'failed', nil, {'workerId'})
    emit('failed', j.queue, id, {'s', 'failed', 'e', message})
    local dlq = nz(cfg(j.queue).deadLetter)
    if dlq and dlq ~= j.queue then changeQueue(id, j, dlq) end
  else
    j.runAt = runAt
    local sets = nil
    if runAt then sets = {'runAt', fmt(runAt)} end
    setState(id, j, state, sets, {'workerId'})
    emit('retrying', j.queue, id, {'s', state, 'e', message})
  end
end

-- Promotes due scheduled jobs of one queue, at most max per call.
local function promoteDue(q, max)
  local sk = P .. 'sched:' .. q
  local ids = redis.call('ZRANGEBYSCORE', sk, '-inf', NOWS, 'LIMIT', 0, max)
  local n = 0
  for _, id in ipairs(ids) do
    local j = load(id)
    if j and j.state == 'scheduled' and j.runAt and j.runAt <= NOW then
      setState(id, j, 'queued')
      emit('promoted', q, id, {'s', 'queued'})
      n = n + 1
    else
      redis.call('ZREM', sk, id)
    end
  end
  return n, #ids >= max
end

-- Applies change(id, job) to each existing job among ARGS[first..] whose state is in
-- allowed (any state when nil); flushes wake-ups and returns the ids it changed.
local function eachJob(first, allowed, change)
  local out = {}
  for i = first, #ARGS do
    local id = ARGS[i]
    local j = load(id)
    if j and (allowed == nil or allowed[j.state]) then
      change(id, j)
      out[#out + 1] = id
    end
  end
  commit()
  return out
end

-- The newest wake-up marker and the next due time of a queue: a waiter that starts from
-- these misses nothing that happens after this script.
-- heldUntil: when a rate window that held jobs back ends (a claim knows), also a due time.
local function wakeInfo(q, out, heldUntil)
  local m = redis.call('XREVRANGE', P .. 'marker:' .. q, '+', '-', 'COUNT', 1)
  local d = redis.call('ZRANGE', P .. 'sched:' .. q, 0, 0, 'WITHSCORES')
  local due = tonumber(d[2])
  if heldUntil and (due == nil or heldUntil < due) then due = heldUntil end
  out[#out + 1] = q
  out[#out + 1] = (m[1] and m[1][1]) or '0-0'
  out[#out + 1] = due and fmt(due) or ''
end

-- Starts a call: as a Redis Function the library above is loaded once and its state lives
-- on between calls, so every call resets all of it here.
local function begin(keys, argv)
  ARGS = argv
  NULL = cjson.null
  P, NOWS, MAXAGE, MAXDONE, EVMAX, EVENTS = argv[1], argv[2], tonumber(argv[3]), tonumber(argv[4]), argv[5], keys[1]
  NOW = tonumber(NOWS)
  wake, dueWake, cfgs, events, tallies, noneParked = {}, {}, {}, {}, {}, {}
  BATCH = false
  zruns, zkeys, nameDelta, arrivals, dropped = {}, {}, {}, {}, {}
end
