-- Local functions placed in each accept script (app.queue.scripts.lua_source): one merchant's
-- token bucket on one partition, checked in the accept's own atomic step, so the limit costs
-- no round trip and a refused accept stores nothing at all; and the answers an accept gives
-- before anything else.
--
-- key          {ps:N}:rate:<merchant>  hash  tokens = what the bucket holds (fractional),
--                                            ms = the Redis-clock milliseconds it was filled to
-- rate_per_s   tokens added per second on this partition; 0 turns the limit off
-- burst        what the bucket holds at most: accepts allowed at once after a quiet spell
--
-- Returns 0 when one token was taken, else the milliseconds until one is there.

local function accept_rate_wait_ms(key, rate_per_s, burst)
  rate_per_s = tonumber(rate_per_s)
  if rate_per_s <= 0 then
    return 0
  end
  burst = tonumber(burst)
  -- The Redis clock, so every web process fills the bucket at the same pace.
  local time = redis.call("TIME")
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local stored = redis.call("HMGET", key, "tokens", "ms")
  local tokens = tonumber(stored[1]) or burst
  local filled_ms = tonumber(stored[2]) or now_ms
  tokens = math.min(burst, tokens + math.max(0, now_ms - filled_ms) * rate_per_s / 1000)
  if tokens < 1 then
    return math.ceil((1 - tokens) * 1000 / rate_per_s)
  end
  redis.call("HSET", key, "tokens", tostring(tokens - 1), "ms", now_ms)
  -- Gone once it would be full again: a full bucket and no bucket mean the same.
  redis.call("PEXPIRE", key, math.ceil(burst * 1000 / rate_per_s) + 1000)
  return 0
end

-- What every accept answers before it looks at anything else: {"rate_limited", ms to wait}
-- when the merchant is over its rate (a replay too: a storm of retries is still a storm),
-- then {"replay", fingerprint, status, body, location} when the idempotency key is known;
-- nil when the accept goes on.
local function accept_early_answer(idempotency_key, rate_key, rate_per_s, burst)
  local wait_ms = accept_rate_wait_ms(rate_key, rate_per_s, burst)
  if wait_ms > 0 then
    return {"rate_limited", wait_ms}
  end
  local stored = redis.call("HMGET", idempotency_key, "fingerprint", "status", "body", "location")
  if stored[1] then
    return {"replay", stored[1], stored[2], stored[3], stored[4]}
  end
  return nil
end
