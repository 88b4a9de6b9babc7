/**
 * maintain and the read-only peek behind wait().
 *
 * maintain does at most MAINTAIN_BUDGET jobs per part per queue in one call and says when
 * more is left, so the caller loops instead of one long script blocking Redis.
 */
export const MAINTAIN_BUDGET = 1000;

/** No script arguments. Returns {promoted, reclaimed, expired, more 1|0}. */
export const MAINTAIN = `
-- Removals and re-queues are deferred (see BATCH); flushDeferred() before each read of a
-- sorted set this script may have written.
BATCH = true
local B = ${MAINTAIN_BUDGET}
local promoted, reclaimed, expired, more = 0, 0, 0, 0
local queues = redis.call('SMEMBERS', P .. 'queues')
for _, q in ipairs(queues) do
  local n, full = promoteDue(q, B)
  promoted = promoted + n
  if full then more = 1 end
  local lk = P .. 'lease:' .. q
  local ids = redis.call('ZRANGEBYSCORE', lk, '-inf', NOWS, 'LIMIT', 0, B)
  if #ids >= B then more = 1 end
  for _, id in ipairs(ids) do
    local j = load(id)
    local lease = tonumber(redis.call('HGET', P .. 'job:' .. id, 'leaseUntil') or '0')
    if j and j.state == 'active' and lease <= NOW then
      local message = 'lease expired: worker ' .. (j.workerId or '?') .. ' stopped heartbeating (stalled)'
      appendError(id, j, message, nil)
      emit('stalled', q, id, nil)
      local state, runAt = stallPlan(j)
      applyFailure(id, j, state, runAt, message)
      reclaimed = reclaimed + 1
    elseif not j or j.state ~= 'active' then
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
return {promoted, reclaimed, expired, more}
`;

/** ARGV from A: queues... Returns (queue, newest marker id, next due or '') per queue. */
export const PEEK = `
local info = {}
for i = A, #ARGV do wakeInfo(ARGV[i], info) end
return info
`;
