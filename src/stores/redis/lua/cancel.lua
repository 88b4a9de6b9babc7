-- Operator writes: cancel, remove, retry, promote, clean and queue settings. Each mirrors
-- the MemoryStore method of the same name; ids that do not fit are skipped, and the ids
-- changed are returned.
--
-- ARGV from A: reason, ids...
local reason = ARGV[A]
return eachJob(A + 1, CAN_CANCEL, function(id, j)
  setState(id, j, 'canceled', {'message', reason}, {'workerId'})
  emit('canceled', j.queue, id, {'s', 'canceled', 'm', reason})
end)
