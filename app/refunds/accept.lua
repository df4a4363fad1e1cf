#!lua
-- Atomic accept of a refund: take a token of the merchant's accept rate; replay a known key;
-- otherwise check the payment exists, is the merchant's and has succeeded; reserve the amount
-- against what remains; store the refund record, publish the Dramatiq message and store the
-- answer, in one step. Two refunds that together exceed the payment can therefore never both
-- be accepted.
--
-- The shebang line makes Redis refuse the whole script up front when it is out of memory; all
-- checks come before the first write, and the writes are ordered reservation -> message ->
-- record -> key, so an error between them can never leave a claimed key without its message.
--
-- KEYS[1]  {ps:N}:idem:<merchant>:<payment id>:refunds:<sha256(key)>
--                                      hash: fingerprint, status, body, location, entry
-- KEYS[2]  {ps:N}:pay:<payment id>     hash: payment record; "data" (JSON with merchant_id,
--                                      amount, currency, provider), "step",
--                                      "provider_reference", "amount_refunded",
--                                      "amount_refund_pending" (the reservations)
-- KEYS[3]  {ps:N}:refund:<refund id>   hash: the refund record (flat fields, "step")
-- KEYS[4]  {ps:N}:q:payments           stream: MESSAGE_FIELD = message
-- KEYS[5]  {ps:N}:pay:<payment id>:refunds   set: the payment's refund ids, so a provider event
--                                      naming only the payment finds the refund it settles
-- KEYS[6]  {ps:N}:rate:<merchant>      hash: the merchant's accept bucket here (payments and
--                                      refunds draw on one rate)
-- ARGV[1]  fingerprint of the canonical validated body, bound to the payment's path
-- ARGV[2]  the merchant asking
-- ARGV[3]  amount asked for, minor units; "0" means what remains
-- ARGV[4]  the new refund id
-- ARGV[5]  created, unix seconds
-- ARGV[6]  idempotency key lifetime, seconds
-- ARGV[7]  refund record lifetime, seconds (the payment's is extended to it)
-- ARGV[8]  the encoded Dramatiq message
-- ARGV[9]  Location header of the answer
-- ARGV[10] HTTP status of the answer
-- ARGV[11] the merchant's accept rate on this partition, per second (0: no limit)
-- ARGV[12] the most its bucket holds
--
-- Returns {"rate_limited", milliseconds to wait} when the merchant is over its rate;
-- {"replay", fingerprint, status, body, location} when the key exists;
-- {"not_found"}; {"not_refundable", step}; {"exceeds", remaining};
-- or {"created", body}. Only "created" writes anything (but the bucket's token).

local early = accept_early_answer(KEYS[1], KEYS[6], ARGV[11], ARGV[12])
if early then
  return early
end

local payment = redis.call("HMGET", KEYS[2], "data", "step", "provider_reference",
  "amount_refunded", "amount_refund_pending")
if not payment[1] then
  return {"not_found"}
end
local data = cjson.decode(payment[1])
if data["merchant_id"] ~= ARGV[2] then
  return {"not_found"}
end
local step = payment[2]
if (step ~= "charged" and step ~= "recorded") or not payment[3] then
  return {"not_refundable", step}
end

local remaining = data["amount"] - tonumber(payment[4] or "0") - tonumber(payment[5] or "0")
local amount = tonumber(ARGV[3])
if amount == 0 then
  amount = remaining
end
if amount <= 0 or amount > remaining then
  return {"exceeds", tostring(remaining)}
end
if redis.call("EXISTS", KEYS[3]) == 1 then
  return redis.error_reply("refund id collision")
end

local body = string.format(
  '{"id":"%s","object":"refund","status":"pending","amount":%d,"currency":"%s",' ..
  '"payment":"%s","created":%d}',
  ARGV[4], amount, data["currency"], data["id"], tonumber(ARGV[5]))

redis.call("HINCRBY", KEYS[2], "amount_refund_pending", amount)
local entry = redis.call("XADD", KEYS[4], "*", MESSAGE_FIELD, ARGV[8])
redis.call("HSET", KEYS[3],
  "id", ARGV[4], "payment_id", data["id"], "merchant_id", ARGV[2], "amount", amount,
  "currency", data["currency"], "provider", data["provider"], "payment_reference", payment[3],
  "created", ARGV[5], "step", "requested")
redis.call("EXPIRE", KEYS[3], ARGV[7])
redis.call("SADD", KEYS[5], ARGV[4])
redis.call("EXPIRE", KEYS[5], ARGV[7])
-- The payment must outlive its refund, whose settlement writes to it (GT: never shorten).
redis.call("EXPIRE", KEYS[2], ARGV[7], "GT")
redis.call("HSET", KEYS[1],
  "fingerprint", ARGV[1], "status", ARGV[10], "body", body, "location", ARGV[9],
  "entry", entry)
redis.call("EXPIRE", KEYS[1], ARGV[6])
return {"created", body}
