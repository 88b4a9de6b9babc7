-- ARGV from A: role, holder.
local k = P .. 'leader:' .. ARGV[A]
if redis.call('HGET', k, 'holder') == ARGV[A + 1] then redis.call('DEL', k) end
return 1
