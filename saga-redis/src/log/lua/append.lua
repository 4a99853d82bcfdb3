-- Appends records under the optimistic version and the fence, and moves the saga between indexes.
-- KEYS: the 21 keys of the saga, or only the first two when the caller does not know the saga's
--   definition (the script then answers {'need', definition, version} and writes nothing).
-- ARGV: key base of the shard, id, fence, expected version, new state, lease ttl ms,
--   retention ms (0 = keep finished sagas forever), record bodies...
-- Answers {'ok', new version}, {'not_found'}, {'need', def, dver},
--   {'conflict', 'lease_lost' | 'version_mismatch' | 'finished', current version}, {'corrupt', why}.
local inst = KEYS[1]
if redis.call('EXISTS', inst) == 0 then
  return {'not_found'}
end
local h = redis.call('HMGET', inst, 'def', 'dver', 'state', 'version', 'fence')
local def, dver, state, version, fence = h[1], h[2], h[3], h[4], h[5]
if not def or not dver then
  return {'corrupt', 'instance has no definition'}
end
if #KEYS < 21 or KEYS[3] ~= ARGV[1] .. 'recoverable:' .. dver .. ':' .. def then
  return {'need', def, dver}
end
local v, f, old = tonumber(version), tonumber(fence), STATES[state]
if not v or not f or not old then
  return {'corrupt', 'instance version, fence or state does not decode'}
end
if f ~= tonumber(ARGV[3]) then
  return {'conflict', 'lease_lost', version}
end
if v ~= tonumber(ARGV[4]) then
  return {'conflict', 'version_mismatch', version}
end
if old >= 4 then
  return {'conflict', 'finished', version}
end
local new, id = STATES[ARGV[5]], ARGV[2]
if not new then
  return redis.error_reply('saga-redis: unknown state ' .. ARGV[5])
end
local touched = {KEYS[3], KEYS[3 + old], KEYS[9 + old], KEYS[3 + new], KEYS[9 + new]}
if new >= 4 then
  table.insert(touched, KEYS[15 + new - 3])
  table.insert(touched, KEYS[18 + new - 3])
end
local damaged = not_a('list', {KEYS[2]}) or not_a('zset', touched)
if damaged then
  return {'corrupt', 'key holds the wrong kind of value: ' .. damaged}
end
local now = now_ms()
local stamp = int(now) .. ':'
for i = 8, #ARGV do
  redis.call('RPUSH', KEYS[2], stamp .. ARGV[i])
end
local newv = v + #ARGV - 7
redis.call('HSET', inst, 'version', int(newv), 'state', ARGV[5], 'updated', int(now))
if new >= 3 then
  -- Stuck and terminal states release the lease.
  redis.call('HDEL', inst, 'owner')
  redis.call('HSET', inst, 'lease_until', '0')
else
  redis.call('HSET', inst, 'lease_until', int(now + tonumber(ARGV[6])))
end
if new ~= old then
  redis.call('ZREM', KEYS[3 + old], id)
  redis.call('ZREM', KEYS[9 + old], id)
  redis.call('ZADD', KEYS[3 + new], 0, id)
  redis.call('ZADD', KEYS[9 + new], 0, id)
end
if new <= 2 then
  redis.call('ZADD', KEYS[3], 0, id)
else
  redis.call('ZREM', KEYS[3], id)
end
local retention = tonumber(ARGV[7])
if new >= 4 and retention > 0 then
  -- A finished saga's keys expire; its entries in the state sets are pruned from the expiry sets
  -- (a few per append, oldest first), and each set expires with its last member.
  local expires = int(now + retention)
  redis.call('PEXPIRE', inst, retention)
  redis.call('PEXPIRE', KEYS[2], retention)
  local t = new - 3
  for _, pair in ipairs({{KEYS[3 + new], KEYS[15 + t]}, {KEYS[9 + new], KEYS[18 + t]}}) do
    local set, expiry = pair[1], pair[2]
    redis.call('ZADD', expiry, expires, id)
    local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', int(now), 'LIMIT', 0, 64)
    if #gone > 0 then
      redis.call('ZREM', set, unpack(gone))
      redis.call('ZREM', expiry, unpack(gone))
    end
    redis.call('PEXPIRE', set, retention)
    redis.call('PEXPIRE', expiry, retention)
  end
end
return {'ok', int(newv)}
