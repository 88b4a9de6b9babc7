/**
 * Operator writes: cancel, remove, retry, promote, clean and queue settings. Each mirrors
 * the MemoryStore method of the same name; ids that do not fit are skipped, and the ids
 * changed are returned.
 */

/** ARGV from A: reason, ids... */
export const CANCEL = `
local reason = ARGV[A]
return eachJob(A + 1, CAN_CANCEL, function(id, j)
  setState(id, j, 'canceled', {'message', reason}, {'workerId'})
  emit('canceled', j.queue, id, {'s', 'canceled', 'm', reason})
end)
`;

/** ARGV from A: ids... */
export const REMOVE = `
return eachJob(A, nil, removeJob)
`;

/** ARGV from A: ids... */
export const RETRY = `
return eachJob(A, CAN_RETRY, function(id, j)
  j.attempt = 0
  setState(id, j, 'queued', {'attempt', '0', 'progress', '0'}, {'finishedAt', 'message', 'runAt'})
  emit('retrying', j.queue, id, {'s', 'queued'})
end)
`;

/** ARGV from A: ids... */
export const PROMOTE = `
return eachJob(A, CAN_PROMOTE, function(id, j)
  local v, broken = depsVerdict(depList(j), j.onParentFailure)
  if v == 'broken' then
    failWith(id, j, brokenMsg(broken))
  else
    j.runAt = nil
    if v == 'wait' then setState(id, j, 'deferred', nil, {'runAt'}) else setState(id, j, 'queued', nil, {'runAt'}) end
    emit('promoted', j.queue, id, {'s', j.state})
  end
end)
`;

/**
 * One chunk of clean, in creation order: ARGV from A: queue, cutoff, how many more may be
 * removed ('' = no limit), chunk size, exclusive lower cseq bound ('-inf' first), states...
 * Returns {removed, next bound or '' when done}.
 */
export const CLEAN = `
local q, cutoff, remaining, chunk, bound = ARGV[A], tonumber(ARGV[A + 1]), num(ARGV[A + 2]), tonumber(ARGV[A + 3]), ARGV[A + 4]
local cands, safe = {}, nil
for i = A + 5, #ARGV do
  local r = redis.call('ZRANGEBYSCORE', P .. 'st:' .. ARGV[i] .. ':' .. q, bound, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk)
  for k = 1, #r, 2 do cands[#cands + 1] = {r[k], tonumber(r[k + 1])} end
  -- A full chunk may hide later entries: only scores up to its last are complete.
  if #r / 2 >= chunk then
    local last = tonumber(r[#r])
    if safe == nil or last < safe then safe = last end
  end
end
table.sort(cands, function(a, b) return a[2] < b[2] end)
local removed, last = 0, nil
for _, c in ipairs(cands) do
  if safe and c[2] > safe then break end
  if remaining and removed >= remaining then break end
  last = c[2]
  local j = load(c[1])
  if j and (j.finishedAt or j.createdAt) <= cutoff then
    removeJob(c[1], j)
    removed = removed + 1
  end
end
commit()
local more = safe ~= nil and not (remaining and removed >= remaining)
if more then return {removed, '(' .. fmt(last or safe)} end
return {removed, ''}
`;

/** ARGV from A: queue, patch JSON. Returns the stored settings as JSON. */
export const CONFIGURE = `
local q, patch = ARGV[A], cjson.decode(ARGV[A + 1])
local cur = cfg(q)
local wasPaused = cur.paused == true
for k, v in pairs(patch) do cur[k] = v end
local encoded = cjson.encode(cur)
redis.call('SET', P .. 'config:' .. q, encoded)
redis.call('SADD', P .. 'queues', q)
if patch.paused ~= nil and (patch.paused == true) ~= wasPaused then
  if patch.paused == true then emit('paused', q, nil, nil) else emit('resumed', q, nil, nil); wake[q] = true end
end
if patch.concurrency ~= nil or patch.rateLimit ~= nil or patch.groupConcurrency ~= nil then wake[q] = true end
commit()
return encoded
`;
