#!lua
-- Move a payment's or refund's recovery point forward, only from the point the caller last
-- saw, so two workers holding the same message (a reclaimed message whose first worker still
-- lives) can never both take the same step; in the same step, store the event a final move
-- publishes, named by the record until its mover relays it (see publish.lua); and, when the
-- move is refused, answer the record as it now stands, so the caller's next phase needs no
-- read of its own.
--
-- KEYS[1]  {ps:N}:pay:<payment id>    hash: the record, field "step" = recovery point
--       or {ps:N}:refund:<refund id>
-- KEYS[2]  {ps:N}:pay:<payment id>    hash: the payment the record belongs to (KEYS[1] for a
--                                     payment): "event_seq" counts its events
-- KEYS[3]  {ps:N}:event:<event id>    hash: body (the event JSON), merchant, payment, seq,
--                                     record (KEYS[1])
-- KEYS[4]  {ps:N}:q:events            stream: MESSAGE_FIELD = the relay's message (for an
--                                     older event the record still names)
-- KEYS[5]  {ps:N}:trail:<payment id>  stream: the payment's moves and calls, for operators
-- ARGV[1]  the step the caller expects the record to be at
-- ARGV[2]  the step to move to
-- ARGV[3]  the event id, "" when the move publishes none (ARGV[4..7] are then "")
-- ARGV[4]  the event JSON
-- ARGV[5]  the merchant the event is for
-- ARGV[6]  the payment it belongs to
-- ARGV[7]  the relay's message for it
-- ARGV[8]  how long the stored event and the trail are kept, seconds
-- ARGV[9..] more field, value pairs to write with the move
--
-- publish() comes from publish.lua.
--
-- Returns {1, the event's number among its payment's (0: none)} when moved: the caller knows
-- what it wrote. Else {0, the record's fields as HGETALL lists them} ({0, {}} when there is no
-- record). The event is stored only with the move.

if redis.call("HGET", KEYS[1], "step") ~= ARGV[1] then
  return {0, redis.call("HGETALL", KEYS[1])}
end
redis.call("HSET", KEYS[1], "step", ARGV[2], unpack(ARGV, 9))
return {1, publish(KEYS, ARGV[1], ARGV[2], {ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]}, ARGV[8])}
