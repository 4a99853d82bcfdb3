-- Claims entries pending longer than the idle time for this consumer, with their delivery counts.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle ms, ARGV[4] start id, ARGV[5] count
-- Returns {next start id, claimed entries, ids of deleted entries, times delivered of each claimed}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'0-0', {}, {}, {}}
end
local r = redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
if r.err then
  return r
end
local counts = {}
for i, e in ipairs(r[2]) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
  if p[1] then
    counts[i] = p[1][4]
  else
    counts[i] = 1
  end
end
return {r[1], r[2], r[3] or {}, counts}
