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
        leases[#leases + 1] = v[4]
        leases[#leases + 1] = v[5] or ''
      end
    else
      redis.call('ZREM', lk, id)
    end
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
