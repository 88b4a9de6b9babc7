-- One chunk of clean, in creation order: ARGV from A: queue, cutoff, how many more may be
-- removed ('' = no limit), chunk size, exclusive lower cseq bound ('-inf' first), states...
-- Returns {removed, next bound or '' when done}.
local q, cutoff, remaining, chunk, bound = ARGV[A], tonumber(ARGV[A + 1]), num(ARGV[A + 2]), tonumber(ARGV[A + 3]), ARGV[A + 4]
local cands, safe = {}, nil
for i = A + 5, #ARGV do
  local r = redis.call('ZRANGEBYSCORE', P .. 'st:' .. ARGV[i] .. ':' .. q, bound, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk)
  for k = 1, #r, 2 do cands[#cands + 1] = {r[k], tonumber(r[k + 1])} end
  -- A full chunk may hide later entries: only scores up to its last are complete.
  if #r / 2 >= chunk then
    local last = tonumber(r[#r])
    if safe == nil or last < safe then safe = last end
  end
end
table.sort(cands, function(a, b) return a[2] < b[2] end)
local removed, last = 0, nil
for _, c in ipairs(cands) do
  if safe and c[2] > safe then break end
  if remaining and removed >= remaining then break end
  last = c[2]
  local j = load(c[1])
  if j and (j.finishedAt or j.createdAt) <= cutoff then
    removeJob(c[1], j)
    removed = removed + 1
  end
end
commit()
local more = safe ~= nil and not (remaining and removed >= remaining)
if more then return {removed, '(' .. fmt(last or safe)} end
return {removed, ''}
