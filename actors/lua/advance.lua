#!lua
-- Move a payment's or refund's recovery point forward, only from the point the caller last
-- saw, so two workers holding the same message (a reclaimed message whose first worker still
-- lives) can never both take the same step; and answer the record as it now stands, so the
-- caller's next phase needs no read of its own.
--
-- KEYS[1]  {ps:N}:pay:<payment id>    hash: the record, field "step" = recovery point
--       or {ps:N}:refund:<refund id>
-- ARGV[1]  the step the caller expects the record to be at
-- ARGV[2]  the step to move to
-- ARGV[3..] more field, value pairs to write with the move
--
-- Returns {1 when moved else 0, the record's fields as HGETALL lists them} ({0, {}} when there
-- is no record).

local moved = 0
if redis.call("HGET", KEYS[1], "step") == ARGV[1] then
  redis.call("HSET", KEYS[1], "step", ARGV[2], unpack(ARGV, 3))
  moved = 1
end
return {moved, redis.call("HGETALL", KEYS[1])}
