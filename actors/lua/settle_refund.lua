#!lua
-- Settle a refund's reservation on its payment and move the refund's recovery point, in one
-- step, only from the point the caller last saw: a recorded refund moves its amount from
-- "amount_refund_pending" to "amount_refunded"; a failed one gives the reservation back.
--
-- KEYS[1]  {ps:N}:refund:<refund id>   hash: the refund record, field "step" = recovery point
-- KEYS[2]  {ps:N}:pay:<payment id>     hash: the payment record; "data" (JSON with amount),
--                                      "amount_refund_pending", "amount_refunded"
-- KEYS[3]  {ps:N}:event:<event id>    hash: the event the move publishes (see advance.lua)
-- KEYS[4]  {ps:N}:q:events             stream: MESSAGE_FIELD = the relay's message
-- KEYS[5]  {ps:N}:trail:<payment id>   stream: the payment's moves and calls (see advance.lua)
-- ARGV[1]  the step the caller expects the refund to be at
-- ARGV[2]  the step to move to
-- ARGV[3]  the refund's amount, minor units
-- ARGV[4]  "refunded" (the money went back) or "released" (it did not)
-- ARGV[5..9] the event the move publishes, as ARGV[3..7] of advance.lua ("" for none)
-- ARGV[10] how long the stored event and the trail are kept, seconds
-- ARGV[11..] more refund field, value pairs to write with the move
--
-- publish() comes from publish.lua.
--
-- Returns {1, the event's number among its payment's} when moved (the caller knows what it
-- wrote), else {0, the refund's fields as HGETALL lists them}.
-- Raises, writing nothing, when the payment's reservations do not hold the refund's amount or
-- the payment would be refunded past its amount: money invariants, never bad luck.

if redis.call("HGET", KEYS[1], "step") ~= ARGV[1] then
  return {0, redis.call("HGETALL", KEYS[1])}
end
local amount = tonumber(ARGV[3])
local payment = redis.call("HMGET", KEYS[2], "data", "amount_refund_pending", "amount_refunded")
if not payment[1] then
  return redis.error_reply("refund's payment has no record")
end
local pending = tonumber(payment[2] or "0")
local refunded = tonumber(payment[3] or "0")
if pending < amount then
  return redis.error_reply("reservations hold less than the refund's amount")
end
if ARGV[4] == "refunded" then
  if refunded + amount > cjson.decode(payment[1])["amount"] then
    return redis.error_reply("refunds would exceed the payment's amount")
  end
  redis.call("HINCRBY", KEYS[2], "amount_refunded", amount)
elseif ARGV[4] ~= "released" then
  return redis.error_reply("settle mode must be refunded or released")
end
redis.call("HINCRBY", KEYS[2], "amount_refund_pending", -amount)
redis.call("HSET", KEYS[1], "step", ARGV[2], unpack(ARGV, 11))
return {1, publish(KEYS, ARGV[1], ARGV[2], {ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]}, ARGV[10])}
