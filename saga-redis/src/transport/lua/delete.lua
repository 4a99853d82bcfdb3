-- Removes a group with its delayed entries; a topic's stream goes with its last group.
-- KEYS[1] stream, KEYS[2] expiry hash, KEYS[3] the group's delayed set
-- ARGV[1] group, ARGV[2] 1 to keep the stream without groups (dead-letter streams)
-- Returns 1 if the group existed.
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local existed = redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
if ARGV[2] ~= '1' and #redis.call('XINFO', 'GROUPS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return existed
