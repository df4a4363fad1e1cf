#!lua
-- Moves due delayed messages onto the stream: XADD, ZREM and HDEL in one atomic step, so a
-- message is never removed from the delayed set without being on the stream.
--
-- KEYS[1]  {ps:N}:q:<queue>:delayed       zset    message id -> due time in ms
-- KEYS[2]  {ps:N}:q:<queue>:delayed:msgs  hash    message id -> encoded message
-- KEYS[3]  {ps:N}:q:<queue>               stream  entries: MESSAGE_FIELD = encoded message
-- ARGV[1]  the most messages to move in this call
--
-- Returns the number of due ids taken from the delayed set.
--
-- "#!lua": when Redis is out of memory it refuses the whole script up front, instead of
-- failing between two of its writes.
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, message_id in ipairs(due) do
  local body = redis.call('HGET', KEYS[2], message_id)
  -- An id without a body has nothing left to deliver; dropping it keeps it from blocking the set.
  if body then
    redis.call('XADD', KEYS[3], '*', MESSAGE_FIELD, body)
  end
  redis.call('ZREM', KEYS[1], message_id)
  redis.call('HDEL', KEYS[2], message_id)
end
return #due
