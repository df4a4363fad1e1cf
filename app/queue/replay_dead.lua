#!lua
-- Puts a dead-lettered message back to work: XADD its message (as the caller renewed it) to the
-- work stream and XDEL it from the dead stream in one step, so it is in exactly one of the two.
--
-- KEYS[1]  {ps:N}:q:<queue>:dead  stream  fields MESSAGE_FIELD, reason, entry, deliveries, consumer
-- KEYS[2]  {ps:N}:q:<queue>       stream  entries with one field MESSAGE_FIELD = encoded message
-- ARGV[1]  dead entry id
-- ARGV[2]  the encoded message to put to work
--
-- Returns the new work entry id, or false when there is no such dead entry (already replayed).
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return false
end
local entry = redis.call('XADD', KEYS[2], '*', MESSAGE_FIELD, ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return entry
