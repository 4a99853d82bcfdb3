-- Removes expired groups, then trims the stream below what every group has both delivered and
-- acknowledged: never an entry some group has pending or not yet read.
-- KEYS[1] stream, KEYS[2] expiry hash
-- ARGV[1] entries to keep beyond that (dead-letter streams; 0 for topics, whose stream is deleted
--         once it has no group), ARGV[2] idle ms after which a consumer without pending entries is
--         removed from its group
-- Returns {stream length, entries removed, groups removed}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0, 0}
end
local now = now_ms()
local destroyed = 0
local expiring = redis.call('HGETALL', KEYS[2])
for i = 1, #expiring, 2 do
  if tonumber(expiring[i + 1]) < now then
    destroyed = destroyed + redis.call('XGROUP', 'DESTROY', KEYS[1], expiring[i])
    redis.call('HDEL', KEYS[2], expiring[i])
  end
end
local keep = tonumber(ARGV[1])
local cut = nil
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 and keep == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {0, 0, destroyed}
end
for _, g in ipairs(groups) do
  local name = field(g, 'name')
  local low = field(g, 'last-delivered-id')
  local pending = redis.call('XPENDING', KEYS[1], name)
  if tonumber(pending[1]) > 0 and id_lt(pending[2], low) then
    low = pending[2]
  end
  if cut == nil or id_lt(low, cut) then
    cut = low
  end
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], name)) do
    if tonumber(field(c, 'pending')) == 0 and tonumber(field(c, 'idle')) > tonumber(ARGV[2]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], name, field(c, 'name'))
    end
  end
end
local len = redis.call('XLEN', KEYS[1])
if keep > 0 and len > keep then
  -- The oldest of the newest `keep` entries, read from whichever end is nearer.
  local keep_cut
  if len - keep < keep then
    local older = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - keep + 1)
    keep_cut = older[#older][1]
  else
    local newer = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', keep)
    keep_cut = newer[#newer][1]
  end
  if cut == nil or id_lt(keep_cut, cut) then
    cut = keep_cut
  end
end
local removed = 0
if cut then
  removed = redis.call('XTRIM', KEYS[1], 'MINID', cut)
end
return {len - removed, removed, destroyed}
