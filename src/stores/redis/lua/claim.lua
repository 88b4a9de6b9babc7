-- claim: MemoryStore.claim in one script. Promotes due jobs of the queues, then takes
-- ready jobs by priority then arrival, honouring pause, queue concurrency, rate limit,
-- group concurrency, group rate limit and the names filter. A queue held back by a rate
-- window reports the window's end as its next due time, so waiters wake then.
--
-- ARGV from A: workerId, limit, leaseMs, tokenBase, nNames, names..., nQueues, queues...
-- Returns {jobs, info}: jobs are flat HGETALL lists as read before the claim (plus data,
-- errors, logCount), the n-th holding token tokenBase .. n; info is
-- (queue, newest marker id, next due or '') per queue, for wait().
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
            j.leaseUntil = leaseUntil
            tokens = tokens + 1
            local sets = {'token', tokenBase .. tokens, 'attempt', (j.attempt or 0) + 1, 'startedAt', NOWS,
              'workerId', worker, 'leaseUntil', fmt(leaseUntil)}
            -- A new attempt starts at progress 0 with no message: absent fields.
            local dels = {}
            if j.has_message then dels[#dels + 1] = 'message' end
            if j.has_progress then dels[#dels + 1] = 'progress' end
            setState(id, j, 'active', sets, dels)
            if rl then rcount = rcount + 1 end
            emit('active', q, id, {'s', 'active'})
            -- The reply is the hash as read: the client knows what was just written
            -- (token = tokenBase .. position in the reply, attempt + 1, the times it sent)
            -- and fills it in, so those fields do not cross the wire twice.
            local logs = '0'
            if j.has_logSeq then logs = tostring(redis.call('LLEN', P .. 'logs:' .. id)) end
            m[#m + 1] = 'logCount'; m[#m + 1] = logs
            if j.has_nerr then m[#m + 1] = 'errors'; m[#m + 1] = redis.call('GET', P .. 'errors:' .. id) or '[]' end
            if not j.has_data then m[#m + 1] = 'data'; m[#m + 1] = redis.call('GET', P .. 'data:' .. id) or 'null' end
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
commit()
local info = {}
for _, q in ipairs(queues) do wakeInfo(q, info, held[q]) end
return {out, info}
