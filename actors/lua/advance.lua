#!lua
-- Move a payment's or refund's recovery point forward, only from the point the caller last
-- saw, so two workers holding the same message (a reclaimed message whose first worker still
-- lives) can never both take the same step; append the event a final move publishes to the
-- partition's outbox in the same step; and answer the record as it now stands, so the
-- caller's next phase needs no read of its own.
--
-- KEYS[1]  {ps:N}:pay:<payment id>    hash: the record, field "step" = recovery point
--       or {ps:N}:refund:<refund id>
-- KEYS[2]  {ps:N}:outbox              stream: EVENT_FIELD = event JSON, MERCHANT_FIELD,
--                                     PAYMENT_FIELD (whose it is)
-- ARGV[1]  the step the caller expects the record to be at
-- ARGV[2]  the step to move to
-- ARGV[3]  the event JSON the move publishes, "" for none
-- ARGV[4]  the merchant the event is for
-- ARGV[5]  the payment the event belongs to
-- ARGV[6..] more field, value pairs to write with the move
--
-- Returns {1 when moved else 0, the record's fields as HGETALL lists them} ({0, {}} when there
-- is no record). The event is appended only with the move.

local moved = 0
if redis.call("HGET", KEYS[1], "step") == ARGV[1] then
  redis.call("HSET", KEYS[1], "step", ARGV[2], unpack(ARGV, 6))
  if ARGV[3] ~= "" then
    redis.call("XADD", KEYS[2], "*",
      EVENT_FIELD, ARGV[3], MERCHANT_FIELD, ARGV[4], PAYMENT_FIELD, ARGV[5])
  end
  moved = 1
end
return {moved, redis.call("HGETALL", KEYS[1])}
