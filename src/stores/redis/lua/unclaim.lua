-- unclaim: hands back jobs leased to a worker that never started them (a hand-over to a
-- worker that stopped first): queued again as if never claimed. The attempt is not spent
-- and no error is kept; the 'retrying' event says the job is waiting again.
-- ARGV from A: count, then (id, token) per job. Returns 1|0 each (0: not leased under that
-- token any more).
BATCH = true
local n = tonumber(ARGV[A])
local res = {}
for i = 0, n - 1 do
  local id, tok = ARGV[A + 1 + 2 * i], ARGV[A + 2 + 2 * i]
  local j = loadOnly(id, FOR_FINISH)
  if not j or j.state ~= 'active' or j.token ~= tok then
    res[#res + 1] = 0
  else
    local attempt = (j.attempt or 1) - 1
    local sets, dels = {}, {'workerId', 'startedAt'}
    -- Attempt 0 is the default: absent, as on a job never claimed.
    if attempt > 0 then sets = {'attempt', attempt} else dels[#dels + 1] = 'attempt' end
    j.attempt = attempt
    setState(id, j, 'queued', sets, dels)
    emit('retrying', j.queue, id, {'s', 'queued'})
    res[#res + 1] = 1
  end
end
commit()
return res
