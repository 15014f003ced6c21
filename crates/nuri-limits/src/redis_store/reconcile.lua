-- Nuri rate limiter: charge (delta > 0) or refund (delta < 0) tokens on token buckets after a
-- request's real usage is known. Same bucket layout and math as acquire.lua.
--
-- KEYS[i]        "<prefix><subject>:t"
-- ARGV[1]        delta in tokens (signed)
-- ARGV[1 + i]    tokens-per-minute limit of KEYS[i]

local W = 60000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local delta = tonumber(ARGV[1])

local function int(x)
  return string.format('%.0f', x)
end

for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + i])
  local v = redis.call('HMGET', KEYS[i], 'u', 't')
  local used = tonumber(v[1]) or 0
  local at = tonumber(v[2]) or now
  local lvl = math.max(used - math.max(now - at, 0) * limit, 0)
  local new = math.max(lvl + delta * W, 0)
  if new > 0 then
    redis.call('HSET', KEYS[i], 'u', int(new), 't', int(now))
    local ttl = W
    if limit > 0 then ttl = math.ceil(new / limit) end
    redis.call('PEXPIRE', KEYS[i], int(ttl + 1000))
  else
    redis.call('DEL', KEYS[i])
  end
end
return 1
