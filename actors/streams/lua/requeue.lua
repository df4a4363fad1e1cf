#!lua
-- Gives an entry this consumer never started back to the group: re-adds its fields as a new
-- entry, then XACK and XDEL the old one, so another consumer can take it at once.
--
-- KEYS[1]  {ps:N}:q:<queue>  stream  entries with one field MESSAGE_FIELD = encoded message
-- ARGV[1]  consumer group
-- ARGV[2]  consumer name
-- ARGV[3]  entry id
--
-- Returns 1 when requeued, 0 when the entry is no longer pending to this consumer: it was
-- settled already, or reclaimed by another consumer that now owns (and may be running) it.
--
-- "#!lua": when Redis is out of memory it refuses the whole script up front, instead of
-- failing between two of its writes.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then
  return 0
end
local entries = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
if #entries == 1 then
  redis.call('XADD', KEYS[1], '*', unpack(entries[1][2]))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return #entries
