-- Renews this consumer's lease on entries it still holds (buffered or being processed) by
-- resetting their idle time, so reclaim takes only entries whose consumer really went silent,
-- however long a message waits in the worker's queue or runs.
--
-- KEYS[1]     {ps:N}:q:<queue>  stream  entries with one field MESSAGE_FIELD = encoded message
-- ARGV[1]     consumer group
-- ARGV[2]     consumer name
-- ARGV[3..n]  entry ids
--
-- XCLAIM with JUSTID resets the idle time without counting a delivery. An entry another consumer
-- has meanwhile reclaimed is left alone: taking it back would run it twice. Returns the number of
-- entries renewed.
local renewed = 0
for index = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[index], ARGV[index], 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[index], 'JUSTID')
    renewed = renewed + 1
  end
end
return renewed
