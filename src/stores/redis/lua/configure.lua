-- ARGV from A: queue, patch JSON. Returns the stored settings as JSON.
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
if patch.concurrency ~= nil or patch.rateLimit ~= nil or patch.groupConcurrency ~= nil or patch.groupRateLimit ~= nil then wake[q] = true end
-- Active jobs per group are counted only while the limit is set: without it, the counts go
-- (a limit set later counts the jobs that become active from then on).
if not nz(cur.groupConcurrency) then redis.call('DEL', P .. 'groups:' .. q) end
commit()
return encoded
