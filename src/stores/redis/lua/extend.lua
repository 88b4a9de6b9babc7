-- The writes a worker makes while it holds leases: extend, finish and update. Each is
-- fenced by the lease token and takes a whole batch.
--
-- ARGV from A: leaseMs, count, then (id, token) pairs. Returns 1|0 per lease.
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
