-- Leadership leases (Store.lead / resign): a hash per role with its holder and deadline,
-- compared against the caller's clock (ARGV now), so a test clock governs them too.
--
-- ARGV from A: role, holder, ttlMs. Returns 1 when the holder has the role now.
local k = P .. 'leader:' .. ARGV[A]
local v = redis.call('HMGET', k, 'holder', 'until')
if v[1] and v[1] ~= ARGV[A + 1] and tonumber(v[2]) > NOW then return 0 end
redis.call('HSET', k, 'holder', ARGV[A + 1], 'until', fmt(NOW + tonumber(ARGV[A + 2])))
return 1
