-- Moves the due entries of a group's delayed set back into the stream.
-- KEYS[1] stream, KEYS[2] the group's delayed set
-- ARGV[1] most entries to move
-- Returns {entries moved, ms until the next one is due or -1}.
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', int(now), 'LIMIT', 0, ARGV[1])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[2], member)
  local packed = cmsgpack.unpack(member)
  local args = {KEYS[1], 'NOMKSTREAM', '*'}
  for i = 2, #packed do
    args[#args + 1] = packed[i]
  end
  redis.call('XADD', unpack(args))
end
local next_due = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if next_due[2] then
  return {#due, math.max(0, tonumber(next_due[2]) - now)}
end
return {#due, -1}
