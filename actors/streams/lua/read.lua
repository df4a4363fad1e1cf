-- Reads up to a total number of new entries for one consumer across a queue's partition streams.
-- XREADGROUP's COUNT applies per stream, so one multi-stream command could deliver up to
-- partitions × COUNT entries and break prefetch; reading the streams one by one here delivers
-- exactly the total asked for, at most, in one round trip.
--
-- KEYS[1..n]  {ps:N}:q:<queue>  stream  entries: MESSAGE_FIELD = encoded message; the caller
--                                       rotates the order so every partition gets its turn first
-- ARGV[1]     consumer group
-- ARGV[2]     consumer name
-- ARGV[3]     the most entries to deliver
--
-- Returns {{{stream, entry id, encoded message}, ...}, {top id per stream, ...}}. The top ids (the
-- newest entry of each stream, "0-0" when empty) come only when nothing was delivered: nothing
-- newer is undelivered then, so an XREAD BLOCK from them wakes on the next entry without a race.
local remaining = tonumber(ARGV[3])
local delivered = {}
for _, stream in ipairs(KEYS) do
  if remaining == 0 then
    break
  end
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', remaining,
    'STREAMS', stream, '>')
  if reply then
    for _, entry in ipairs(reply[1][2]) do
      local body = ''
      for index = 1, #entry[2], 2 do
        if entry[2][index] == MESSAGE_FIELD then
          body = entry[2][index + 1]
        end
      end
      delivered[#delivered + 1] = {stream, entry[1], body}
      remaining = remaining - 1
    end
  end
end
local tops = {}
if #delivered == 0 then
  for index, stream in ipairs(KEYS) do
    local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    tops[index] = newest[1] and newest[1][1] or '0-0'
  end
end
return {delivered, tops}
