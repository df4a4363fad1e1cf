-- Claims entries whose consumer went silent (idle at least the given time) and reports how often
-- each was delivered, so the caller can dead-letter poison messages instead of running them again.
--
-- KEYS[1]  {ps:N}:q:<queue>  stream  entries with one field MESSAGE_FIELD = encoded message
-- ARGV[1]  consumer group
-- ARGV[2]  claiming consumer name
-- ARGV[3]  minimum idle time in ms
-- ARGV[4]  cursor: the entry id to scan the pending list from ("0-0" to start)
-- ARGV[5]  the most entries to claim in this call
--
-- Returns {next cursor, {{entry id, encoded message, deliveries}, ...}}; "0-0" as the cursor means
-- the whole pending list was scanned. Entries whose payload was deleted have nothing left to run:
-- since Redis 7 XAUTOCLAIM lists them apart (reply[3]) and has already dropped them from the
-- pending list; Redis 6.2 claims them with no fields, so they are acked away here.
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  'COUNT', tonumber(ARGV[5]))
local claimed = {}
for _, entry in ipairs(reply[2]) do
  local fields = entry[2]
  if fields then
    local body = ''
    for index = 1, #fields, 2 do
      if fields[index] == MESSAGE_FIELD then
        body = fields[index + 1]
      end
    end
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    claimed[#claimed + 1] = {entry[1], body, pending[1][4]}
  else
    redis.call('XACK', KEYS[1], ARGV[1], entry[1])
  end
end
return {reply[1], claimed}
