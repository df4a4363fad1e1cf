#!lua
-- Take in one verified provider event: unless the payment it names is unknown here or the
-- event was taken in before, mark it taken and publish the message that applies it, in one
-- step, so an event is either not taken (the provider will deliver it again) or taken exactly
-- once with its message durably queued.
--
-- KEYS[1]  {ps:N}:pevt:<provider>:<sha256(event id)>  hash: type, received (the dedupe mark)
-- KEYS[2]  {ps:N}:pay:<payment id>                    hash: the payment record (must exist)
-- KEYS[3]  {ps:N}:q:payments                          stream: MESSAGE_FIELD = message
-- ARGV[1]  the event's type, for audit
-- ARGV[2]  received, unix seconds
-- ARGV[3]  how long the mark is kept, seconds (longer than providers retry a delivery)
-- ARGV[4]  the encoded Dramatiq message
--
-- Returns "unknown" (no such payment), "duplicate", or "taken". Only "taken" writes anything.

if redis.call("EXISTS", KEYS[2]) == 0 then
  return "unknown"
end
if redis.call("EXISTS", KEYS[1]) == 1 then
  return "duplicate"
end
redis.call("XADD", KEYS[3], "*", MESSAGE_FIELD, ARGV[4])
redis.call("HSET", KEYS[1], "type", ARGV[1], "received", ARGV[2])
redis.call("EXPIRE", KEYS[1], ARGV[3])
return "taken"
