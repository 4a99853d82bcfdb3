-- Settles a delivery by giving it back to its group: acknowledged, then added again (no delay) or
-- kept in the group's delayed set until it is due. Atomic: never both lost and acknowledged.
-- KEYS[1] stream, KEYS[2] the group's delayed set
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] delay ms, ARGV[4..] the entry's fields
-- Returns 1, or 0 if the entry was no longer pending (claimed and settled elsewhere): nothing done.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local delay = tonumber(ARGV[3])
if delay <= 0 then
  redis.call('XADD', KEYS[1], 'NOMKSTREAM', '*', unpack(fields))
  return 1
end
-- The entry id keeps members unique; the mover drops it again.
table.insert(fields, 1, ARGV[2])
redis.call('ZADD', KEYS[2], int(now_ms_ceil() + delay), cmsgpack.pack(fields))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], int(ttl + delay))
end
return 1
