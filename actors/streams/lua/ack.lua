-- Acknowledges a processed entry and deletes it, so acked work never accumulates in the stream
-- and the stream never has to be trimmed (trimming would also drop entries still pending).
--
-- KEYS[1]  {ps:N}:q:<queue>  stream  entries with one field MESSAGE_FIELD = encoded message
-- ARGV[1]  consumer group
-- ARGV[2]  entry id
--
-- No "#!lua" line on purpose: XACK and XDEL free memory, so acks keep working when Redis is
-- out of memory.
--
-- Returns 1 when the entry was still pending, 0 when an earlier call or another consumer
-- already settled it.
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
