-- Helpers prepended to every script of the Redis transport (see src/transport/scripts.rs).

-- Milliseconds since the Unix epoch on the server clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The same, rounded up: a due time computed from it is never before the delay it adds (the floor of
-- `now_ms` can be up to a millisecond behind the server's clock, and a requeue delayed by d was then
-- redelivered after d - 1 ms).
local function now_ms_ceil()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.ceil(tonumber(t[2]) / 1000)
end

-- An integer as decimal text (never in exponent form).
local function int(n)
  return string.format('%d', n)
end

-- The value of `name` in a flat {k1, v1, k2, v2, ...} reply (XINFO GROUPS / CONSUMERS entries).
local function field(flat, name)
  for i = 1, #flat, 2 do
    if flat[i] == name then
      return flat[i + 1]
    end
  end
  return nil
end

-- Whether stream id `a` ("ms-seq") is lower than `b`. Decimal texts without leading zeros compare by
-- length first, so ids beyond 2^53 compare exactly too.
local function num_lt(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end

local function id_lt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then
    return false
  end
  if am ~= bm then
    return num_lt(am, bm)
  end
  return num_lt(as, bs)
end

-- The groups of the stream `key` (which must exist) as a list of names.
local function group_names(key)
  local names = {}
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    names[#names + 1] = field(g, 'name')
  end
  return names
end
