-- ARGV from A: count, then per update: id, token ('' = none), progress (''), message flag
-- ('' unchanged, 'n' null, 's' set), message, nLogs, then (stream, line) pairs.
-- Returns 1|0 per update.
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
