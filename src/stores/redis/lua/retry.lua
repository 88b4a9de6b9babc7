-- ARGV from A: ids...
return eachJob(A, CAN_RETRY, function(id, j)
  -- A dead letter goes back to the queue it failed in.
  if j.originalQueue then changeQueue(id, j, j.originalQueue) end
  j.attempt = 0
  setState(id, j, 'queued', {'attempt', '0', 'progress', '0'}, {'finishedAt', 'message', 'runAt'})
  emit('retrying', j.queue, id, {'s', 'queued'})
end)
