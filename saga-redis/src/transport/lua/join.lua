-- Joins (creating if needed) a consumer group, and keeps the topic's expiry right.
-- KEYS[1] stream, KEYS[2] expiry hash, KEYS[3] the group's delayed set
-- ARGV[1] group, ARGV[2] expiry in ms (0: a durable group)
-- Returns 1 if the group was created, 0 if it existed.
local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
local created = 1
if type(r) == 'table' and r.err then
  if string.find(r.err, 'BUSYGROUP', 1, true) then
    created = 0
  else
    return r
  end
end
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
  return created
end
local now = now_ms()
redis.call('HSET', KEYS[2], ARGV[1], int(now + ttl))
-- The stream lives as long as its longest-lived group, and for good if any group is durable.
local latest = now + ttl
local durable = false
for _, name in ipairs(group_names(KEYS[1])) do
  local deadline = redis.call('HGET', KEYS[2], name)
  if not deadline then
    durable = true
    break
  end
  latest = math.max(latest, tonumber(deadline))
end
if durable then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIRE', KEYS[1], int(latest - now))
  redis.call('PEXPIRE', KEYS[2], int(latest - now))
end
redis.call('PEXPIRE', KEYS[3], int(ttl))
return created
