-- ARGV from A: queues... Returns (queue, newest marker id, next due or '') per queue.
local info = {}
for i = A, #ARGV do wakeInfo(ARGV[i], info) end
return info
