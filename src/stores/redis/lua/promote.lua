-- ARGV from A: ids...
return eachJob(A, CAN_PROMOTE, function(id, j)
  local v, broken, waiting = depsVerdict(depList(j), j.onParentFailure)
  if v == 'broken' then
    failWith(id, j, brokenMsg(broken))
  else
    j.runAt = nil
    if v == 'wait' then setState(id, j, 'deferred', {'waitingOn', tostring(waiting)}, {'runAt'}) else setState(id, j, 'queued', nil, {'runAt'}) end
    emit('promoted', j.queue, id, {'s', j.state})
  end
end)
