#!lua
-- Atomic accept of a new payment: take a token of the merchant's accept rate, claim the
-- idempotency key, store the answer and its fingerprint, store the payment record, and publish
-- the Dramatiq message, in one step.
--
-- The shebang line makes Redis refuse the whole script up front when it is out of memory,
-- instead of failing half-way; and the writes are ordered message -> record -> key, so even
-- an error between them can never leave a claimed key without its message.
--
-- KEYS[1]  {ps:N}:idem:<merchant>:<sha256(key)>  hash: fingerprint, status, body, location,
--                                                 entry (the stream entry id)
-- KEYS[2]  {ps:N}:pay:<payment id>               hash: the payment record (ARGV[12..])
-- KEYS[3]  {ps:N}:q:payments                     stream: MESSAGE_FIELD = message
-- KEYS[4]  {ps:N}:list:<merchant>                 zset: payment id -> created ms, what lists
--                                                 read while the history may lag behind; and
--                                                 LIST_SINCE_MEMBER, scored with the created ms
--                                                 from which on it holds every payment
-- KEYS[5]  {ps:N}:rate:<merchant>                 hash: the merchant's accept bucket here
-- ARGV[1]  fingerprint of the canonical validated body
-- ARGV[2]  HTTP status of the first answer
-- ARGV[3]  body of the first answer (exact bytes, replayed as they are)
-- ARGV[4]  Location header of the first answer
-- ARGV[5]  idempotency key lifetime, seconds
-- ARGV[6]  payment record lifetime, seconds
-- ARGV[7]  the encoded Dramatiq message
-- ARGV[8]  the payment id
-- ARGV[9]  the milliseconds its id was made in
-- ARGV[10] the merchant's accept rate on this partition, per second (0: no limit)
-- ARGV[11] the most its bucket holds
-- ARGV[12..] payment record field, value, field, value, ...
--
-- Returns {"rate_limited", milliseconds to wait} when the merchant is over its rate (a replay
-- too: a storm of retries is still a storm), having stored nothing;
-- {"replay", fingerprint, status, body, location} when the key exists,
-- or {"created", stream entry id}.

local early = accept_early_answer(KEYS[1], KEYS[5], ARGV[10], ARGV[11])
if early then
  return early
end
if redis.call("EXISTS", KEYS[2]) == 1 then
  return redis.error_reply("payment id collision")
end

local entry = redis.call("XADD", KEYS[3], "*", MESSAGE_FIELD, ARGV[7])
redis.call("HSET", KEYS[2], unpack(ARGV, 12))
redis.call("EXPIRE", KEYS[2], ARGV[6])
-- Listed for as long as the record lives: older entries leave the index, and its marker moves
-- up to where it is whole again (older payments are PostgreSQL's alone). A new index is whole
-- from the start. It never expires, or an absent index could not mean "no payment here".
local cutoff = tonumber(ARGV[9]) - ARGV[6] * 1000
redis.call("ZADD", KEYS[4], "NX", 0, LIST_SINCE_MEMBER)
redis.call("ZADD", KEYS[4], ARGV[9], ARGV[8])
if redis.call("ZREMRANGEBYSCORE", KEYS[4], "(0", "(" .. cutoff) > 0 then
  redis.call("ZADD", KEYS[4], cutoff, LIST_SINCE_MEMBER)
end
redis.call("HSET", KEYS[1],
  "fingerprint", ARGV[1], "status", ARGV[2], "body", ARGV[3], "location", ARGV[4],
  "entry", entry)
redis.call("EXPIRE", KEYS[1], ARGV[5])
return {"created", entry}
