-- enqueue: MemoryStore.enqueue in one script. Everything is checked before the first
-- write (Lua has no rollback), so a refused batch changes nothing.
--
-- ARGV from A: count, then ENQUEUE_FIELDS values per job (see redis-store.ts).
-- Returns {'ERR', code, message} or a flat list of (id, state, duplicate '1'|'0').
local n = tonumber(ARGV[A])
-- Deferred writes pay off over many jobs; a single add makes the same calls directly.
BATCH = n ~= 1
local jobs = {}
for i = 0, n - 1 do
  local b = A + 1 + i * ENQUEUE_FIELDS
  jobs[#jobs + 1] = {
    id = ARGV[b], dedupe = ARGV[b + 1] == '1', queue = ARGV[b + 2], name = ARGV[b + 3], data = ARGV[b + 4],
    priority = ARGV[b + 5], runAt = opt(ARGV[b + 6]), start = ARGV[b + 7] == '1', maxAttempts = ARGV[b + 8],
    backoff = opt(ARGV[b + 9]), timeoutMs = opt(ARGV[b + 10]), deps = ARGV[b + 11], policy = ARGV[b + 12],
    groupKey = opt(ARGV[b + 13]), resultTtlMs = opt(ARGV[b + 14]), failureTtlMs = opt(ARGV[b + 15]),
    scheduleId = opt(ARGV[b + 16]), startBy = opt(ARGV[b + 17]), trace = opt(ARGV[b + 18]),
    dkey = opt(ARGV[b + 19]), dmode = ARGV[b + 20], dttl = num(ARGV[b + 21]), bkey = opt(ARGV[b + 22]),
  }
  -- A debounce key lives among the dedupe keys under a name no dedupe key can have.
  if jobs[#jobs].bkey then jobs[#jobs].debounceKey, jobs[#jobs].bkey = jobs[#jobs].bkey, '{debounce}' .. jobs[#jobs].bkey end
end

-- 0. dedupe keys (src/stores/dedupe.ts): a job whose key holds answers with the job that took
-- it (dupOf) and is not added. Entries in dedupe:<queue> are "<until or empty>|<id>". A key
-- taken earlier in this batch holds for the later jobs.
local WAITS = {pending = true, scheduled = true, deferred = true, queued = true}
local keysTaken = {}
for _, nj in ipairs(jobs) do
  if nj.bkey then
    -- Debounce: a job with the key that still waits for its run time takes this add's data
    -- and run time (nj.push); twice in one batch, the earlier job of the batch does.
    local slot = nj.queue .. '|' .. nj.bkey
    local earlier = keysTaken[slot]
    if earlier then
      earlier.data, earlier.runAt, earlier.startBy = nj.data, nj.runAt, nj.startBy
      nj.dupOf, nj.debounced = earlier.id, true
    else
      local v = redis.call('HGET', P .. 'dedupe:' .. nj.queue, nj.bkey)
      local id = v and string.match(v, '^%d*|(.*)$')
      if id and redis.call('HGET', P .. 'job:' .. id, 'state') == 'scheduled' then
        nj.dupOf, nj.debounced, nj.push = id, true, true
      else
        keysTaken[slot] = nj
      end
    end
  elseif nj.dkey then
    local slot = nj.queue .. '|' .. nj.dkey
    if keysTaken[slot] then
      nj.dupOf = keysTaken[slot].id
    else
      local v = redis.call('HGET', P .. 'dedupe:' .. nj.queue, nj.dkey)
      if v then
        local untilS, id = string.match(v, '^(%d*)|(.*)$')
        local st = redis.call('HGET', P .. 'job:' .. id, 'state')
        local holds = st and (untilS == '' or tonumber(untilS) > NOW)
        if holds and nj.dmode == 'waiting' then holds = WAITS[st] == true
        elseif holds and nj.dmode == 'unfinished' then holds = not FINISHED[st] end
        if holds then nj.dupOf = id end
      end
      if not nj.dupOf then keysTaken[slot] = nj end
    end
  end
end

local function exists(id) return redis.call('EXISTS', P .. 'job:' .. id) == 1 end
-- Whether any id of a batch is taken already, in one EXISTS per 4,000 ids: with fresh ids,
-- the common case, none is, and no id needs an EXISTS of its own.
local noneTaken = false
if n > 1 then
  local ks = {}
  for _, nj in ipairs(jobs) do if not nj.dupOf then ks[#ks + 1] = P .. 'job:' .. nj.id end end
  local found = 0
  for i = 1, #ks, 4000 do found = found + redis.call('EXISTS', unpack(ks, i, math.min(i + 3999, #ks))) end
  noneTaken = found == 0
end

-- 1. checks: dependencies exist, queue limits hold (or enough waiting jobs can be evicted)
local batch, order, growth, fresh = {}, {}, {}, 0
for _, nj in ipairs(jobs) do
  if not nj.dupOf and not batch[nj.id] and (noneTaken or not exists(nj.id)) then
    nj.fresh = true
    fresh = fresh + 1
    if nj.deps == '[]' then nj.depList = {} else nj.depList = cjson.decode(nj.deps) end
    for _, d in ipairs(nj.depList) do
      if not batch[d] and not exists(d) then
        return {'ERR', 'NOT_FOUND', 'job ' .. nj.id .. ' depends on ' .. d .. ', which does not exist'}
      end
    end
    batch[nj.id] = true
    local g = growth[nj.queue]
    if not g then
      g = {total = 0, byName = {}, names = {}}
      growth[nj.queue] = g
      order[#order + 1] = nj.queue
    end
    g.total = g.total + 1
    if not g.byName[nj.name] then
      g.byName[nj.name] = 0
      g.names[#g.names + 1] = nj.name
    end
    g.byName[nj.name] = g.byName[nj.name] + 1
  end
end

local function unfinished(q, name)
  if name then return tonumber(redis.call('HGET', P .. 'names:' .. q, name) or '0') end
  local s = 0
  for _, st in ipairs(UNFINISHED) do s = s + redis.call('ZCARD', stateKey(st, q)) end
  return s
end

-- Oldest waiting jobs of a queue (optionally of one name) by creation, skipping planned ones.
local WAITING = {'pending', 'scheduled', 'deferred', 'queued'}
local function oldestWaiting(q, name, count, skip)
  local out, heads = {}, {}
  for i, st in ipairs(WAITING) do heads[i] = {key = P .. 'st:' .. st .. ':' .. q, offset = 0, items = {}, pos = 1} end
  local function peek(h)
    if h.pos > #h.items then
      h.items = redis.call('ZRANGE', h.key, h.offset, h.offset + 99, 'WITHSCORES')
      h.offset = h.offset + 100
      h.pos = 1
      if #h.items == 0 then return nil end
    end
    return h.items[h.pos], tonumber(h.items[h.pos + 1])
  end
  while #out < count do
    local best, bestScore, bestId = nil, nil, nil
    for _, h in ipairs(heads) do
      local id, score = peek(h)
      if id and (bestScore == nil or score < bestScore) then best, bestScore, bestId = h, score, id end
    end
    if not best then break end
    best.pos = best.pos + 2
    if not skip[bestId] and (name == nil or redis.call('HGET', P .. 'job:' .. bestId, 'name') == name) then
      out[#out + 1] = bestId
    end
  end
  return out
end

local evict, evictSet = {}, {}
for _, q in ipairs(order) do
  local g, c = growth[q], cfg(q)
  local function plan(over, name, what)
    if over <= 0 then return nil end
    if c.overflow ~= 'evict-oldest' then return {'ERR', 'QUEUE_FULL', what .. '; the add was refused'} end
    local victims = oldestWaiting(q, name, over, evictSet)
    if #victims < over then return {'ERR', 'QUEUE_FULL', what .. ' and not enough waiting jobs can be evicted'} end
    for _, v in ipairs(victims) do
      evict[#evict + 1] = v
      evictSet[v] = true
    end
    return nil
  end
  local maxSize = nz(c.maxSize)
  if maxSize then
    local e = plan(unfinished(q) + g.total - maxSize, nil, 'queue ' .. q .. ' is full (max size ' .. maxSize .. ')')
    if e then return e end
  end
  local limits = nz(c.typeLimits) or {}
  for _, name in ipairs(g.names) do
    local limit = nz(limits[name])
    if limit then
      local e = plan(unfinished(q, name) + g.byName[name] - limit, name,
        'queue ' .. q .. ' holds its limit of ' .. limit .. ' unfinished "' .. name .. '" jobs')
      if e then return e end
    end
  end
end

-- 2. writes
for _, v in ipairs(evict) do
  local j = load(v)
  if j then removeJob(v, j) end
end
-- An evicted id may come back in this very batch: its keys must be gone before the writes.
flushDeferred()

local out = {}
if #order > 0 then redis.call('SADD', P .. 'queues', unpack(order)) end
-- Creation numbers for the whole batch in one call.
local cseq = 0
if fresh > 0 then cseq = redis.call('INCRBY', P .. 'seq', fresh) - fresh end
local stateOf = {}
for _, nj in ipairs(jobs) do
  -- Ids checked above need no second look; a repeat within the batch does.
  local existing = nil
  if not nj.fresh and not nj.dupOf then existing = redis.call('HGET', P .. 'job:' .. nj.id, 'state') end
  if nj.push then
    -- A debounced add: the waiting job takes the new data and run time.
    local j = load(nj.dupOf)
    local sets, dels = {'runAt', nj.runAt}, {}
    replaceValue(nj.dupOf, 'data', nj.data, sets, dels)
    j.runAt = tonumber(nj.runAt)
    setState(nj.dupOf, j, 'scheduled', sets, dels)
    out[#out + 1] = nj.dupOf; out[#out + 1] = 'scheduled'; out[#out + 1] = '2'
  elseif nj.dupOf then
    out[#out + 1] = nj.dupOf; out[#out + 1] = stateOf[nj.dupOf] or redis.call('HGET', P .. 'job:' .. nj.dupOf, 'state'); out[#out + 1] = nj.debounced and '2' or '1'
  elseif existing then
    -- An id we generated can only exist if this very batch ran before (a resend after a
    -- lost reply): that is not a duplicate add.
    out[#out + 1] = nj.id; out[#out + 1] = existing; out[#out + 1] = nj.dedupe and '1' or '0'
  else
    local v, broken, waiting = depsVerdict(nj.depList, nj.policy)
    local state
    if not nj.start then state = 'pending'
    elseif v == 'broken' then state = 'failed'
    elseif v == 'wait' then state = 'deferred'
    else state = readyState(num(nj.runAt)) end
    local seq
    if nj.fresh then
      cseq = cseq + 1
      seq = cseq
    else
      -- An id that existed at the check but was evicted since: no number was kept for it.
      seq = redis.call('INCR', P .. 'seq')
    end
    -- Fields at their defaults are left out (priority 0, one attempt, attempt 0, progress 0,
    -- no dependencies, onParentFailure 'fail'), and so is the id, which the key holds: the
    -- scripts and the codec read an absent field as its default, every field costs Lua glue
    -- here and in each claim's read and reply, and three fewer keep the hash 80 bytes smaller.
    local h = {'queue', nj.queue, 'name', nj.name, 'createdAt', NOWS, 'cseq', seq}
    local function put(k, val) if val then h[#h + 1] = k; h[#h + 1] = val end end
    if nj.priority ~= '0' then put('priority', nj.priority) end
    if nj.maxAttempts ~= '1' then put('maxAttempts', nj.maxAttempts) end
    if nj.deps ~= '[]' then put('dependsOn', nj.deps) end
    if nj.policy ~= 'fail' then put('onParentFailure', nj.policy) end
    put('runAt', nj.runAt); put('backoff', nj.backoff); put('timeoutMs', nj.timeoutMs); put('groupKey', nj.groupKey)
    put('resultTtlMs', nj.resultTtlMs); put('failureTtlMs', nj.failureTtlMs); put('scheduleId', nj.scheduleId)
    put('startBy', nj.startBy); put('trace', nj.trace); put('dedupeKey', nj.dkey); put('debounceKey', nj.debounceKey)
    if state == 'deferred' then put('waitingOn', tostring(waiting)) end
    -- Latest starts, for maintain to cancel waiting jobs that passed theirs.
    if nj.startBy then zadd(P .. 'startby', nj.startBy, nj.id) end
    putValue(nj.id, 'data', nj.data, h)
    for _, d in ipairs(nj.depList) do
      redis.call('SADD', P .. 'children:' .. d, nj.id)
      redis.call('HSET', P .. 'job:' .. d, 'kids', '1')
    end
    local j = {id = nj.id, queue = nj.queue, name = nj.name, priority = tonumber(nj.priority), runAt = num(nj.runAt),
      attempt = 0, maxAttempts = tonumber(nj.maxAttempts), backoff = nj.backoff, groupKey = nj.groupKey, cseq = seq,
      onParentFailure = nj.policy, dependsOn = nj.deps, resultTtlMs = num(nj.resultTtlMs), failureTtlMs = num(nj.failureTtlMs)}
    emit('added', nj.queue, nj.id, {'s', state})
    if state == 'failed' then
      local message = brokenMsg(broken)
      appendError(nj.id, j, message, nil)
      setState(nj.id, j, 'failed', h)
      emit('failed', nj.queue, nj.id, {'s', 'failed', 'e', message})
    elseif not (n == 1 and state == 'queued' and not nj.startBy and not nj.groupKey and handFresh(nj.id, j, h)) then
      setState(nj.id, j, state, h)
    end
    -- A job handed to a parked worker as it was added reads 'queued' here, as one handed over
    -- at the end of the script (commit) does.
    out[#out + 1] = nj.id; out[#out + 1] = state; out[#out + 1] = '0'
    stateOf[nj.id] = j.state
    if nj.dkey or nj.bkey then
      redis.call('HSET', P .. 'dedupe:' .. nj.queue, nj.dkey or nj.bkey, (nj.dttl and fmt(NOW + nj.dttl) or '') .. '|' .. nj.id)
    end
  end
end
commit()
return out
