#!lua
-- Puts a dead-lettered message back to work: XADD its message to the work stream and XDEL it
-- from the dead stream in one step, so it is in exactly one of the two.
--
-- KEYS[1]  {ps:N}:q:<queue>:dead  stream  fields m, reason, entry, deliveries, consumer
-- KEYS[2]  {ps:N}:q:<queue>       stream  entries with one field m = encoded message
-- ARGV[1]  dead entry id
--
-- Returns the new work entry id, or false when there is no such dead entry (already replayed).
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return false
end
local fields = found[1][2]
local message = nil
for index = 1, #fields, 2 do
  if fields[index] == 'm' then
    message = fields[index + 1]
  end
end
if message == nil then
  return redis.error_reply('dead entry ' .. ARGV[1] .. ' has no message')
end
local entry = redis.call('XADD', KEYS[2], '*', 'm', message)
redis.call('XDEL', KEYS[1], ARGV[1])
return entry
