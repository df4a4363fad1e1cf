#!lua
-- Close an event's relay: the event is in PostgreSQL ("relayed": its copy in Redis goes), or
-- its mover could not write it there and hands it to the relay's queue ("queue"). Either way
-- the record stops naming it, unless a later move already names a newer one.
--
-- KEYS[1]  {ps:N}:pay:<id> or {ps:N}:refund:<id>   hash: the record that published the event
-- KEYS[2]  {ps:N}:event:<event id>                 hash: the stored event (see publish.lua)
-- KEYS[3]  {ps:N}:q:events                         stream: MESSAGE_FIELD = the relay's message
-- ARGV[1]  the event id
-- ARGV[2]  "relayed" or "queue"
--
-- Returns 1 when the record named the event (and so "queue" queued it), else 0.

local named = redis.call("HGET", KEYS[1], RELAY_PENDING_FIELD) == ARGV[1]
if named then
  if ARGV[2] == "queue" then
    redis.call("XADD", KEYS[3], "*", MESSAGE_FIELD, redis.call("HGET", KEYS[1], RELAY_MESSAGE_FIELD))
  end
  redis.call("HDEL", KEYS[1], RELAY_PENDING_FIELD, RELAY_MESSAGE_FIELD)
end
if ARGV[2] == "relayed" then
  redis.call("DEL", KEYS[2])
end
return named and 1 or 0
