-- ARGV from A: count, then FINISH_FIELDS per outcome: id, token, kind ('c'|'f'),
-- result JSON or error message, has stack '1'|'0', stack, then for a failure the decided
-- next state ('failed'|'queued'|'scheduled'), its runAt (''), and stalledAt ('' unless
-- upkeep reclaims an expired lease: then only a lease that ended by then is taken).
-- Returns 1|0 each.
local n = tonumber(ARGV[A])
-- One outcome (a worker running one job at a time) makes its writes directly (see enqueue.lua).
BATCH = n ~= 1
local res = {}
for i = 0, n - 1 do
  local b = A + 1 + i * FINISH_FIELDS
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
