#!lua
-- Schedules a message for later delivery; move.lua puts it on the stream once it is due.
--
-- KEYS[1]  {ps:N}:q:<queue>:delayed       zset  message id -> due time in ms
-- KEYS[2]  {ps:N}:q:<queue>:delayed:msgs  hash  message id -> encoded message
-- ARGV[1]  message id
-- ARGV[2]  delay in ms
-- ARGV[3]  encoded message
--
-- The due time comes from the Redis clock, the same clock move.lua compares against, so a skewed
-- worker clock can neither hold a message back nor release it early. Scheduling the same message
-- id again overwrites both entries: a retry enqueued twice is delivered once.
--
-- "#!lua": when Redis is out of memory it refuses the whole script up front, instead of
-- failing between two of its writes.
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
