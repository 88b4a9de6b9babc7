-- ARGV from A: ids...
return eachJob(A, CAN_RETRY, function(id, j)
  j.attempt = 0
  setState(id, j, 'queued', {'attempt', '0', 'progress', '0'}, {'finishedAt', 'message', 'runAt'})
  emit('retrying', j.queue, id, {'s', 'queued'})
end)
