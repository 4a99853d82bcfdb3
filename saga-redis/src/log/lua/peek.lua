-- Reads one saga atomically: its instance hash and every record.
-- KEYS: instance hash, record list.
-- ARGV: nothing (load), or a claim's mode ('recoverable' | 'one') and claimant: then a saga that
--   the claimant cannot take now (finished, stuck for 'recoverable', leased to another) reads as
--   absent. Fields that do not decode are returned as they are, for the caller to report.
-- Answers {} or {fields (HGETALL), records (LRANGE)}.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then
  return {}
end
if ARGV[1] then
  local f = {}
  for i = 1, #h, 2 do
    f[h[i]] = h[i + 1]
  end
  local s = STATES[f.state]
  if s then
    if s >= 4 or (ARGV[1] == 'recoverable' and s == 3) then
      return {}
    end
    local until_ms = tonumber(f.lease_until or '0')
    if until_ms and f.owner ~= ARGV[2] and until_ms > now_ms() then
      return {}
    end
  end
end
return {h, redis.call('LRANGE', KEYS[2], 0, -1)}
