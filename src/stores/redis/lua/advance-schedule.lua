-- Records a run of the scheduler: compare-and-set of one schedule's progress.
-- ARGV from A: field ('queue\nid'), the progress expected (JSON), the new progress (JSON).
-- Returns 1 when set, 0 when the schedule is gone or its progress moved on.
local k = P .. 'schedules:progress'
if redis.call('HGET', k, ARGV[A]) ~= ARGV[A + 1] then return 0 end
redis.call('HSET', k, ARGV[A], ARGV[A + 2])
return 1
