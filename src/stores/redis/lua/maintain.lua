-- maintain and the read-only peek behind wait().
--
-- maintain does at most MAINTAIN_BUDGET jobs per part per queue in one call and says when
-- more is left, so the caller loops instead of one long script blocking Redis.
--
-- No script arguments. Returns {promoted, expired, more 1|0, leases}: leases lists the
-- expired leases as (id, token, attempt, maxAttempts, workerId) for the caller to decide
-- on and reclaim through FINISH (decisions are made in TypeScript, src/engine/).
-- Removals and re-queues are deferred (see BATCH); flushDeferred() before each read of a
-- sorted set this script may have written.
BATCH = true
local B = MAINTAIN_BUDGET
local promoted, expired, more = 0, 0, 0
local leases = {}
-- Waiting jobs past their latest start (expiresIn / expiresAt) end canceled.
local sk = P .. 'startby'
local late = redis.call('ZRANGEBYSCORE', sk, '-inf', NOWS, 'LIMIT', 0, B)
if #late >= B then more = 1 end
for _, id in ipairs(late) do
  local j = load(id)
  if j and (j.state == 'pending' or j.state == 'scheduled' or j.state == 'deferred' or j.state == 'queued') then expire(id, j) end
  redis.call('ZREM', sk, id)
end
flushDeferred()

local queues = redis.call('SMEMBERS', P .. 'queues')
for _, q in ipairs(queues) do
  -- Registrations of workers that died parked (the live ones take theirs back).
  redis.call('ZREMRANGEBYSCORE', P .. 'idle:' .. q, '-inf', '(' .. NOWS)
  local n, full = promoteDue(q, B)
  promoted = promoted + n
  if full then more = 1 end
  local lk = P .. 'lease:' .. q
  local ids = redis.call('ZRANGEBYSCORE', lk, '-inf', NOWS, 'LIMIT', 0, B)
  if #ids >= B then more = 1 end
  for _, id in ipairs(ids) do
    local v = redis.call('HMGET', P .. 'job:' .. id, 'state', 'token', 'attempt', 'maxAttempts', 'workerId', 'leaseUntil')
    if v[1] == 'active' then
      if tonumber(v[6] or '0') <= NOW then
        leases[#leases + 1] = id
        leases[#leases + 1] = v[2]
        leases[#leases + 1] = v[3] or '0'
        leases[#leases + 1] = v[4] or '1'
        leases[#leases + 1] = v[5] or ''
      end
    else
      redis.call('ZREM', lk, id)
    end
  end
end

-- Fair-share turns at or behind their line's head (or in a line where none waits) would
-- change no later turn: forgotten. Ended group rate windows count for nothing.
flushDeferred()
for _, q in ipairs(queues) do
  -- Dedupe keys that can hold no more: their job gone, their cap passed, or (uncapped) their
  -- job finished.
  local dk = P .. 'dedupe:' .. q
  if redis.call('HLEN', dk) > 0 then
    local all, spent = redis.call('HGETALL', dk), {}
    for i = 1, #all, 2 do
      local untilS, id = string.match(all[i + 1], '^(%d*)|(.*)$')
      local st = redis.call('HGET', P .. 'job:' .. id, 'state')
      if not st or (untilS ~= '' and tonumber(untilS) <= NOW) or (untilS == '' and FINISHED[st]) then spent[#spent + 1] = all[i] end
    end
    for i = 1, #spent, 4000 do redis.call('HDEL', dk, unpack(spent, i, math.min(i + 3999, #spent))) end
  end
  local grk = P .. 'grate:' .. q
  local grl = nz(cfg(q).groupRateLimit)
  if not grl then
    redis.call('DEL', grk)
  elseif redis.call('HLEN', grk) > 0 then
    local all, ended = redis.call('HGETALL', grk), {}
    for i = 1, #all, 2 do
      if NOW - tonumber(string.match(all[i + 1], '^(%d+):')) >= grl.durationMs then ended[#ended + 1] = all[i] end
    end
    for i = 1, #ended, 4000 do redis.call('HDEL', grk, unpack(ended, i, math.min(i + 3999, #ended))) end
  end
  local fk = P .. 'fair:' .. q
  if redis.call('HLEN', fk) > 0 then
    local heads, stale = {}, {}
    local all = redis.call('HGETALL', fk)
    for i = 1, #all, 2 do
      local p = tonumber(string.match(all[i], '^(-?%d+):'))
      local h = heads[p]
      if h == nil then
        h = lineHead(q, p) or false
        heads[p] = h
      end
      if h == false or tonumber(string.match(all[i + 1], '^(%d+)')) <= h then stale[#stale + 1] = all[i] end
    end
    for i = 1, #stale, 4000 do redis.call('HDEL', fk, unpack(stale, i, math.min(i + 3999, #stale))) end
  end
end

-- Removes the finished jobs among ids; drops index entries of jobs that are gone.
local function expire(ids, key)
  for _, id in ipairs(ids) do
    local j = loadOnly(id, FOR_REMOVAL)
    if j and FINISHED[j.state] then
      removeJob(id, j)
      expired = expired + 1
    else
      redis.call('ZREM', key, id)
    end
  end
end

flushDeferred()
local ek = P .. 'expiry'
local due = redis.call('ZRANGEBYSCORE', ek, '-inf', NOWS, 'LIMIT', 0, B)
if #due >= B then more = 1 end
expire(due, ek)

-- The count bound: at most MAXDONE finished jobs per queue and state; the oldest (by
-- creation) go first.
if MAXDONE then
  for _, q in ipairs(queues) do
    for st in pairs(FINISHED) do
      flushDeferred()
      local dk = P .. 'st:' .. st .. ':' .. q
      local over = redis.call('ZCARD', dk) - MAXDONE
      if over > 0 then
        if over > B then over = B; more = 1 end
        expire(redis.call('ZRANGE', dk, 0, over - 1), dk)
      end
    end
  end
end

local gone = redis.call('ZRANGEBYSCORE', P .. 'workers:until', '-inf', NOWS)
for _, id in ipairs(gone) do
  redis.call('HDEL', P .. 'workers', id)
  redis.call('ZREM', P .. 'workers:until', id)
end
commit()
return {promoted, expired, more, leases}
