-- Creates a saga with its Started record, leased to its creator with fence 1.
-- KEYS: the 21 keys of the saga (keys.rs: Keys::saga).
-- ARGV: id, definition, definition version, owner, lease ttl ms, deadline ms or '', record body.
-- Answers {'exists'} or {'ok', now}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists'}
end
local damaged = not_a('zset', {KEYS[3], KEYS[3 + STATES.running], KEYS[9 + STATES.running]})
if damaged then
  return {'corrupt', 'index key holds the wrong kind of value: ' .. damaged}
end
local id = ARGV[1]
local now = now_ms()
redis.call('HSET', KEYS[1], 'def', ARGV[2], 'dver', ARGV[3], 'state', 'running', 'version', '1',
  'owner', ARGV[4], 'fence', '1', 'lease_until', int(now + tonumber(ARGV[5])),
  'created', int(now), 'updated', int(now))
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'deadline', ARGV[6])
end
-- Records of an expired saga with this id are gone with its hash; never append to leftovers.
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], int(now) .. ':' .. ARGV[7])
redis.call('ZADD', KEYS[3], 0, id)
redis.call('ZADD', KEYS[3 + STATES.running], 0, id)
redis.call('ZADD', KEYS[9 + STATES.running], 0, id)
return {'ok', int(now)}
