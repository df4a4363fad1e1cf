#!lua
-- Moves a pending entry to the dead-letter stream: XADD to the dead stream, XACK and XDEL in one
-- atomic step, so the message is in exactly one of the two streams.
--
-- KEYS[1]  {ps:N}:q:<queue>       stream  entries with one field MESSAGE_FIELD = encoded message
-- KEYS[2]  {ps:N}:q:<queue>:dead  stream  fields MESSAGE_FIELD, reason, entry, deliveries, consumer
-- ARGV[1]  consumer group
-- ARGV[2]  entry id
-- ARGV[3]  encoded message
-- ARGV[4]  reason
--
-- Returns 1 when dead-lettered, 0 when the entry was no longer pending: a nack retried after a
-- lost reply, or an entry another consumer already settled, must not be dead-lettered twice.
--
-- "#!lua": when Redis is out of memory it refuses the whole script up front, instead of
-- failing between two of its writes.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return 0
end
redis.call('XADD', KEYS[2], '*',
  MESSAGE_FIELD, ARGV[3],
  'reason', ARGV[4],
  'entry', ARGV[2],
  'deliveries', pending[1][4],
  'consumer', pending[1][2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
