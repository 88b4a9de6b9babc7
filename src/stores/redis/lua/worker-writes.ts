/**
 * The writes a worker makes while it holds leases: extend, finish and update. Each is
 * fenced by the lease token and takes a whole batch.
 */

/** ARGV from A: leaseMs, count, then (id, token) pairs. Returns 1|0 per lease. */
export const EXTEND = `
local leaseMs, n = tonumber(ARGV[A]), tonumber(ARGV[A + 1])
local deadline = fmt(NOW + leaseMs)
local res = {}
for i = 0, n - 1 do
  local id, tok = ARGV[A + 2 + i * 2], ARGV[A + 3 + i * 2]
  local jk = P .. 'job:' .. id
  local v = redis.call('HMGET', jk, 'state', 'token', 'queue')
  if v[1] == 'active' and v[2] == tok then
    redis.call('HSET', jk, 'leaseUntil', deadline)
    redis.call('ZADD', P .. 'lease:' .. v[3], deadline, id)
    res[#res + 1] = 1
  else
    res[#res + 1] = 0
  end
end
return res
`;

export const FINISH_FIELDS = 9;

/**
 * ARGV from A: count, then FINISH_FIELDS per outcome: id, token, kind ('c'|'f'),
 * result JSON or error message, has stack '1'|'0', stack, then for a failure the decided
 * next state ('failed'|'queued'|'scheduled'), its runAt (''), and stalledAt ('' unless
 * upkeep reclaims an expired lease: then only a lease that ended by then is taken).
 * Returns 1|0 each.
 */
export const FINISH = `
BATCH = true
local n = tonumber(ARGV[A])
local res = {}
for i = 0, n - 1 do
  local b = A + 1 + i * ${FINISH_FIELDS}
  local id, tok, kind = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local j = loadOnly(id, FOR_FINISH)
  if not j or j.state ~= 'active' or j.token ~= tok then
    res[#res + 1] = 0
  elseif kind == 'c' then
    local sets = {'progress', '100'}
    if ARGV[b + 3] ~= 'null' then putValue(id, 'result', ARGV[b + 3], sets) end
    setState(id, j, 'completed', sets)
    emit('completed', j.queue, id, {'s', 'completed'})
    res[#res + 1] = 1
  elseif ARGV[b + 8] ~= '' and tonumber(redis.call('HGET', P .. 'job:' .. id, 'leaseUntil') or '0') > tonumber(ARGV[b + 8]) then
    -- A reclaim that a heartbeat overtook: the lease is alive again.
    res[#res + 1] = 0
  else
    local message = ARGV[b + 3]
    local stack = nil
    if ARGV[b + 4] == '1' then stack = ARGV[b + 5] end
    appendError(id, j, message, stack)
    if ARGV[b + 8] ~= '' then emit('stalled', j.queue, id, nil) end
    applyFailure(id, j, ARGV[b + 6], num(ARGV[b + 7]), message)
    res[#res + 1] = 1
  end
end
commit()
return res
`;

/**
 * ARGV from A: count, then per update: id, token ('' = none), progress (''), message flag
 * ('' unchanged, 'n' null, 's' set), message, nLogs, then (stream, line) pairs.
 * Returns 1|0 per update.
 */
export const UPDATE = `
local n = tonumber(ARGV[A])
local p = A + 1
local res = {}
for _ = 1, n do
  local id, tok, prog, mflag, msg, nl = ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], tonumber(ARGV[p + 5])
  local lp = p + 6
  p = lp + nl * 2
  local jk = P .. 'job:' .. id
  local v = redis.call('HMGET', jk, 'state', 'token', 'queue')
  if not v[1] or (tok ~= '' and (v[1] ~= 'active' or v[2] ~= tok)) then
    res[#res + 1] = 0
  else
    local q = v[3]
    if prog ~= '' or mflag ~= '' then
      if prog ~= '' then redis.call('HSET', jk, 'progress', prog) end
      if mflag == 's' then redis.call('HSET', jk, 'message', msg) elseif mflag == 'n' then redis.call('HDEL', jk, 'message') end
      local cur = redis.call('HMGET', jk, 'progress', 'message')
      local ev = {'p', cur[1] or '0'}
      if cur[2] then ev[3] = 'm'; ev[4] = cur[2] end
      emit('progress', q, id, ev)
    end
    if nl > 0 then
      local lk = P .. 'logs:' .. id
      for k = 0, nl - 1 do
        local seq = redis.call('HINCRBY', jk, 'logSeq', 1)
        redis.call('RPUSH', lk, seq .. '|' .. NOWS .. '|' .. ARGV[lp + k * 2] .. '|' .. ARGV[lp + k * 2 + 1])
      end
      redis.call('LTRIM', lk, -MAX_LOG, -1)
      emit('log', q, id, nil)
    end
    res[#res + 1] = 1
  end
end
commit()
return res
`;
