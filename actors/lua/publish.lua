-- What every move of a recovery point writes besides the record, shared by advance.lua and
-- settle_refund.lua: the event a final move publishes (stored next to the record, numbered in
-- its payment's sequence) and the line on the payment's trail.
--
-- The worker that moves the record relays the event itself, right after the move
-- (actors.relay.relay_own): the record names the event and keeps the relay's message for it,
-- so a worker that dies first leaves it to the rerun of its message. An event still named there
-- when the next one is published goes to the relay's queue instead: none is ever dropped.
--
-- keys   {record, payment, event, events stream, trail}: KEYS[1..5] of the calling script
-- event  {id, body, merchant, payment, relay message}; id "" when the move publishes none
-- ttl_s  how long the stored event and the trail are kept
--
-- Returns the event's number in its payment's sequence, 0 when the move publishes none.

local function publish(keys, from, to, event, ttl_s)
  local seq = 0
  if event[1] ~= "" then
    seq = redis.call("HINCRBY", keys[2], "event_seq", 1)
    redis.call("HSET", keys[3], "body", event[2], "merchant", event[3], "payment", event[4],
      "seq", seq, "record", keys[1])
    redis.call("EXPIRE", keys[3], ttl_s)
    local waiting = redis.call("HGET", keys[1], RELAY_MESSAGE_FIELD)
    if waiting then
      redis.call("XADD", keys[4], "*", MESSAGE_FIELD, waiting)
    end
    redis.call("HSET", keys[1], RELAY_PENDING_FIELD, event[1], RELAY_MESSAGE_FIELD, event[5])
  end
  redis.call("XADD", keys[5], "MAXLEN", "~", TRAIL_ENTRIES_MAX, "*",
    "record", keys[1], "from", from, "to", to, "event", event[1])
  redis.call("EXPIRE", keys[5], ttl_s)
  return seq
end
