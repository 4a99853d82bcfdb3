-- Takes the lease of one saga if it is still what the caller read and is claimable now.
-- KEYS: instance hash, the recoverable index of its definition in its shard.
-- ARGV: id, mode ('recoverable' | 'one'), claimant, definition, definition version,
--   lease ttl ms, the version the caller read.
-- Answers {'ok', fence}, {'gone'}, {'skip'}, {'changed'}, {'busy'} or {'corrupt'}.
local inst = KEYS[1]
if redis.call('EXISTS', inst) == 0 then
  -- An index entry without its saga (deleted by hand): drop it, atomically with this check.
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'gone'}
end
local h = redis.call('HMGET', inst, 'def', 'dver', 'state', 'version', 'owner', 'fence', 'lease_until')
if h[1] ~= ARGV[4] or h[2] ~= ARGV[5] then
  return {'skip'}
end
local s, v, f = STATES[h[3]], tonumber(h[4]), tonumber(h[6])
local until_ms = tonumber(h[7] or '0')
if not s or not v or not f or not until_ms then
  return {'corrupt'}
end
if v ~= tonumber(ARGV[7]) then
  return {'changed'}
end
if s >= 4 or (ARGV[2] == 'recoverable' and s == 3) then
  return {'skip'}
end
local now = now_ms()
local mine = h[5] == ARGV[3]
if not mine and until_ms > now then
  return {'busy'}
end
if not mine then
  -- A new owner: a new fence, so the previous owner's appends fail with LeaseLost.
  f = redis.call('HINCRBY', inst, 'fence', 1)
  redis.call('HSET', inst, 'owner', ARGV[3])
end
redis.call('HSET', inst, 'lease_until', int(now + tonumber(ARGV[6])))
return {'ok', int(f)}
