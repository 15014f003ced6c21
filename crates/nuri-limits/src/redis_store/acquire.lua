-- Nuri rate limiter: check every bucket of a request, then charge them all, or none.
-- One call per request; Redis runs scripts atomically, so replicas can never race between the
-- check and the charge. Time is the server's (TIME), never a replica's clock.
--
-- KEYS[i]            one bucket per (subject, limit): "<prefix><subject>:r" (requests/min),
--                    "<prefix><subject>:t" (tokens/min), "<prefix><subject>:c" (concurrency)
-- ARGV[1]            estimated tokens of the request
-- ARGV[2]            request id (names its concurrency slots)
-- ARGV[3]            slot lease in ms (a crashed replica's slots expire after it)
-- ARGV[4]            retry hint in ms when a concurrency limit refuses
-- ARGV[3 + 2i]       kind of KEYS[i]: "r", "t" or "c"
-- ARGV[4 + 2i]       limit of KEYS[i]
--
-- Rate buckets are GCRA in bucket-level form, integer-exact (see src/bucket.rs, which this
-- mirrors): a hash {u = used scaled units (units * 60000), t = ms when u was written}, drained
-- by `limit` scaled units per ms. Every quantity stays below 2^53, so doubles are exact.
--
-- Returns {granted (1|0), index of the refusing key (0 if none), retry-after ms,
--          then per key: remaining units, ms until the bucket is empty}.

local W = 60000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tokens = tonumber(ARGV[1])
local request_id = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local concurrency_retry_ms = tonumber(ARGV[4])

local function int(x)
  return string.format('%.0f', x)
end

local function div_floor(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

local function div_ceil(a, b)
  local q = div_floor(a, b)
  if q * b < a then q = q + 1 end
  return q
end

local function level(key, limit)
  local v = redis.call('HMGET', key, 'u', 't')
  local used = tonumber(v[1]) or 0
  local at = tonumber(v[2]) or now
  local elapsed = math.max(now - at, 0)
  return math.max(used - elapsed * limit, 0)
end

local function reading(lvl, limit)
  local remaining = math.max(div_floor(limit * W - lvl, W), 0)
  local reset = 0
  if lvl > 0 then
    if limit == 0 then reset = W else reset = div_ceil(lvl, limit) end
  end
  return remaining, reset
end

-- Phase 1: check every bucket; charge nothing.
local n = #KEYS
local kinds, limits, levels, costs = {}, {}, {}, {}
local worst, worst_retry = 0, -1
for i = 1, n do
  local kind = ARGV[3 + 2 * i]
  local limit = tonumber(ARGV[4 + 2 * i])
  kinds[i], limits[i] = kind, limit
  local retry = nil
  if kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    levels[i] = redis.call('ZCARD', KEYS[i])
    if levels[i] >= limit then retry = concurrency_retry_ms end
  else
    local cost = 1
    if kind == 't' then cost = tokens end
    costs[i] = cost
    levels[i] = level(KEYS[i], limit)
    local need, capacity = levels[i] + cost * W, limit * W
    if need > capacity then
      if cost > limit then retry = W else retry = div_ceil(need - capacity, limit) end
    end
  end
  if retry ~= nil and retry > worst_retry then
    worst, worst_retry = i, retry
  end
end

local reply = {0, worst, math.max(worst_retry, 0)}
if worst == 0 then
  -- Phase 2: charge every bucket.
  reply[1] = 1
  for i = 1, n do
    if kinds[i] == 'c' then
      redis.call('ZADD', KEYS[i], int(now + lease_ms), request_id)
      redis.call('PEXPIRE', KEYS[i], int(lease_ms))
      levels[i] = levels[i] + 1
    else
      local used = levels[i] + costs[i] * W
      levels[i] = used
      if used > 0 then
        redis.call('HSET', KEYS[i], 'u', int(used), 't', int(now))
        local ttl = W
        if limits[i] > 0 then ttl = div_ceil(used, limits[i]) end
        redis.call('PEXPIRE', KEYS[i], int(ttl + 1000))
      end
    end
  end
end

for i = 1, n do
  if kinds[i] == 'c' then
    reply[#reply + 1] = math.max(limits[i] - levels[i], 0)
    reply[#reply + 1] = 0
  else
    local remaining, reset = reading(levels[i], limits[i])
    reply[#reply + 1] = remaining
    reply[#reply + 1] = reset
  end
end
return reply
