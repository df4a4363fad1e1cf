-- What every move of a recovery point writes besides the record, shared by advance.lua and
-- settle_refund.lua: the event a final move publishes (stored next to the record, numbered in
-- its payment's sequence, and queued for the relay) and the line on the payment's trail.
--
-- keys   {record, payment, event, events stream, trail}: KEYS[1..5] of the calling script
-- event  {id, body, merchant, payment, relay message}; id "" when the move publishes none
-- ttl_s  how long the stored event and the trail are kept

local function publish(keys, from, to, event, ttl_s)
  if event[1] ~= "" then
    local seq = redis.call("HINCRBY", keys[2], "event_seq", 1)
    redis.call("HSET", keys[3], "body", event[2], "merchant", event[3], "payment", event[4],
      "seq", seq)
    redis.call("EXPIRE", keys[3], ttl_s)
    redis.call("XADD", keys[4], "*", MESSAGE_FIELD, event[5])
  end
  redis.call("XADD", keys[5], "MAXLEN", "~", TRAIL_ENTRIES_MAX, "*",
    "record", keys[1], "from", from, "to", to, "event", event[1])
  redis.call("EXPIRE", keys[5], ttl_s)
end
