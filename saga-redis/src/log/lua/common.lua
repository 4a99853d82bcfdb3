-- Helpers prepended to every script of saga-redis (see src/log/scripts.rs).
-- States in SagaState::ALL order: 1-2 recoverable, 3 stuck, 4-6 terminal.
local STATES = {running = 1, compensating = 2, stuck = 3, completed = 4, compensated = 5, resolved = 6}

-- Milliseconds since the Unix epoch on the server clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as decimal text (never in exponent form).
local function int(n)
  return string.format('%d', n)
end

-- The first of `keys` that holds something other than `kind` (a key damaged from outside), or nil.
-- Checked before a script writes: a script's writes are not rolled back when a later command fails.
local function not_a(kind, keys)
  for _, key in ipairs(keys) do
    local t = redis.call('TYPE', key).ok
    if t ~= kind and t ~= 'none' then
      return key
    end
  end
  return nil
end
