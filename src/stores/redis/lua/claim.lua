-- claim: MemoryStore.claim in one script. Promotes due jobs of the queues, then takes
-- ready jobs by priority then arrival, honouring pause, queue concurrency, rate limit,
-- group concurrency, group rate limit and the names filter. A queue held back by a rate
-- window reports the window's end as its next due time, so waiters wake then.
--
-- ARGV from A: workerId, limit, leaseMs, tokenBase, nNames, names..., nQueues, queues...,
-- park, parkUntil, unpark, unparkUntil. park ('' or a registration, see handOff in lib.lua):
-- when nothing is taken, park the caller on its queues until parkUntil. unpark: the
-- caller's previous registration, taken off here; if a hand-over consumed it already, its
-- jobs are on their way down the hand stream and this call takes nothing.
-- Returns {jobs, info, handed, plain}: jobs are flat HGETALL lists as read before the claim
-- (plus data, errors, logCount), the n-th holding token tokenBase .. n; info is
-- (queue, newest marker id, next due or '') per queue, for wait(), and empty when the
-- claim took its whole limit; handed is 1 when unpark
-- had been handed work; plain is 1 when the caller parked and none of its queues has a
-- concurrency, rate or group limit (then only a marker or a due time can make its next
-- claim take anything: see RedisStore.claim).
BATCH = true
local worker, limit, leaseMs, tokenBase = ARGV[A], tonumber(ARGV[A + 1]), tonumber(ARGV[A + 2]), ARGV[A + 3]
local nNames = tonumber(ARGV[A + 4])
local names = nil
if nNames > 0 then
  names = {}
  for i = 1, nNames do names[ARGV[A + 4 + i]] = true end
end
local qb = A + 5 + nNames
local queues = {}
for i = 1, tonumber(ARGV[qb]) do queues[i] = ARGV[qb + i] end
local pb = qb + #queues + 1
local park, parkUntil, unpark, unparkUntil = ARGV[pb], ARGV[pb + 1], ARGV[pb + 2], tonumber(ARGV[pb + 3])
local handed = 0
if unpark ~= '' then
  local kept = 0
  for _, q in ipairs(cjson.decode(unpark).q) do kept = kept + redis.call('ZREM', P .. 'idle:' .. q, unpark) end
  -- Gone before its deadline: a hand-over took it (expired ones are only dropped after it).
  if kept == 0 and NOW < unparkUntil then
    handed = 1
    limit = 0
  end
end

for _, q in ipairs(queues) do promoteDue(q, PROMOTE_PER_CALL) end
-- Jobs just promoted must be in the ready sets the loop below reads.
flushDeferred()

local out, taken, tokens = {}, 0, 0
local leaseUntil = NOW + leaseMs
local held = {}
local function holdUntil(q, at) if held[q] == nil or at < held[q] then held[q] = at end end
for _, q in ipairs(queues) do
  if taken >= limit then break end
  local c = cfg(q)
  if c.paused ~= true then
    local budget = limit - taken
    local conc = nz(c.concurrency)
    if conc then budget = math.min(budget, conc - redis.call('ZCARD', P .. 'lease:' .. q)) end
    local rl = nz(c.rateLimit)
    local rk, rstart, rcount
    if rl then
      rk = P .. 'rate:' .. q
      local v = redis.call('HMGET', rk, 's', 'c')
      rstart, rcount = tonumber(v[1] or '0'), tonumber(v[2] or '0')
      if NOW - rstart >= rl.durationMs then rstart, rcount = NOW, 0 end
      budget = math.min(budget, rl.max - rcount)
      if rcount >= rl.max then holdUntil(q, rstart + rl.durationMs) end
    end
    if budget > 0 then
      local glimit = nz(c.groupConcurrency)
      local grl = nz(c.groupRateLimit)
      local filtered = names ~= nil or glimit ~= nil or grl ~= nil
      local gk, rkey = P .. 'groups:' .. q, P .. 'ready:' .. q
      -- Group rate windows: "start:count" per group, read once and written back at the end.
      local grk, windows = P .. 'grate:' .. q, {}
      local function window(g)
        local w = windows[g]
        if not w then
          local v = redis.call('HGET', grk, g)
          local s, n = 0, 0
          if v then s, n = string.match(v, '^(%d+):(%d+)$'); s, n = tonumber(s), tonumber(n) end
          if NOW - s >= grl.durationMs then s, n = NOW, 0 end
          w = {s = s, n = n}
          windows[g] = w
        end
        return w
      end
      local pos, scanned, scanMax = 0, 0, budget + CLAIM_SCAN_SLACK
      while budget > 0 and scanned < scanMax do
        local chunk = budget
        if filtered then chunk = math.max(budget, 100) end
        local ids = redis.call('ZRANGE', rkey, pos, pos + chunk - 1)
        if #ids == 0 then break end
        for _, id in ipairs(ids) do
          scanned = scanned + 1
          local j, m = loadAll(id)
          if not j or j.state ~= 'queued' then
            -- At once, not deferred: later entries shift down and pos stays right.
            redis.call('ZREM', rkey, id)
          elseif j.startBy and j.startBy <= NOW then
            -- Its removal from the ready set is deferred (in setState): step over it.
            pos = pos + 1
            expire(id, j)
          elseif (names and not names[j.name])
            or (glimit and j.groupKey and tonumber(redis.call('HGET', gk, j.groupKey) or '0') >= glimit) then
            pos = pos + 1
          elseif grl and j.groupKey and window(j.groupKey).n >= grl.max then
            pos = pos + 1
            holdUntil(q, windows[j.groupKey].s + grl.durationMs)
          else
            if grl and j.groupKey then windows[j.groupKey].n = windows[j.groupKey].n + 1; windows[j.groupKey].taken = true end
            -- Its removal from the ready set is deferred: step over it.
            pos = pos + 1
            tokens = tokens + 1
            take(id, j, m, worker, tokenBase .. tokens, leaseUntil)
            if rl then rcount = rcount + 1 end
            out[#out + 1] = m
            taken = taken + 1
            budget = budget - 1
            if budget <= 0 or scanned >= scanMax then break end
          end
        end
      end
      for g, w in pairs(windows) do
        if w.taken then redis.call('HSET', grk, g, fmt(w.s) .. ':' .. w.n) end
      end
    end
    if rl then redis.call('HSET', rk, 's', fmt(rstart), 'c', rcount) end
  end
end
local plain = 0
if park ~= '' and taken == 0 and handed == 0 then
  plain = 1
  for _, q in ipairs(queues) do
    redis.call('ZADD', P .. 'idle:' .. q, parkUntil, park)
    local c = cfg(q)
    if nz(c.concurrency) or nz(c.rateLimit) or nz(c.groupConcurrency) or nz(c.groupRateLimit) then plain = 0 end
  end
end
commit()
-- A claim that took all it asked for is followed by another claim, not by a wait: only
-- a claim that comes up short tells its caller what a wait needs (two reads per queue saved).
local info = {}
if taken == 0 or taken < limit then
  for _, q in ipairs(queues) do wakeInfo(q, info, held[q]) end
end
return {out, info, handed, plain}
