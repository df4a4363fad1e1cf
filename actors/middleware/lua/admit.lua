#!lua
-- Admits calls to a provider within every limit that applies to it, all or none: a call is
-- either counted against each of the provider's windows or against none of them.
--
-- KEYS[1..n]  {ps:rate:<provider>}:<scope>  hash  window = the window number it counts,
--                                                 calls = calls admitted in that window
-- ARGV[1]     window length, seconds
-- ARGV[2]     calls asked for (a charge may need two: create, then confirm)
-- ARGV[3..]   the limit of each key in KEYS, calls per window, in the same order
--
-- Windows are numbered by the Redis clock, so every worker counts the same window whatever
-- its own clock says. Returns 1 when admitted, else the milliseconds until the next window.

local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window_ms = tonumber(ARGV[1]) * 1000
local window = tostring(math.floor(now_ms / window_ms))
local asked = tonumber(ARGV[2])
local counted = {}
for index, key in ipairs(KEYS) do
  local stored = redis.call('HMGET', key, 'window', 'calls')
  local calls = 0
  if stored[1] == window then
    calls = tonumber(stored[2])
  end
  if calls + asked > tonumber(ARGV[index + 2]) then
    return window_ms - now_ms % window_ms
  end
  counted[index] = calls + asked
end
for index, key in ipairs(KEYS) do
  redis.call('HSET', key, 'window', window, 'calls', counted[index])
  redis.call('PEXPIRE', key, window_ms * 2)
end
return 1
