-- wrk script: payments sent straight to the provider simulator, with the calls paystream's
-- worker makes for each payment (bench/settle.py's paystream_call_mix names them).
-- Environment:
--   STRIPE_FLOW       create_then_confirm: POST /v1/payment_intents, then .../{id}/confirm
--                     create_confirmed:    one POST /v1/payment_intents with confirm=true
--   PAYSTACK_PERCENT  payments of every 100 charged with Paystack charge_authorization instead
--   SECRET_KEY        bearer key for both faces
-- wrk does not say which connection an answer belongs to: a create's answer queues its intent,
-- and the thread's next request confirms it. Each thread counts its charged payments; done()
-- prints their sum as "payments: N in S s".

local flow = os.getenv("STRIPE_FLOW") or "create_then_confirm"
local paystack_percent = tonumber(os.getenv("PAYSTACK_PERCENT") or "0")
local secret_key = os.getenv("SECRET_KEY") or "sk_test_bench"
local run_id = tostring(os.time())
local threads = {}
local to_confirm = {}
local counter = 0
payments = 0

if flow ~= "create_then_confirm" and flow ~= "create_confirmed" then
  error("unknown STRIPE_FLOW " .. flow)
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local function form_headers(key)
  return {
    ["Authorization"] = "Bearer " .. secret_key,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Idempotency-Key"] = key,
  }
end

local function stripe_create(payment_id, amount)
  local body = "amount=" .. amount .. "&currency=usd&payment_method=pm_card_visa" ..
    "&metadata[payment_id]=" .. payment_id
  if flow == "create_confirmed" then
    body = body .. "&confirm=true&off_session=true"
  end
  return wrk.format("POST", "/v1/payment_intents", form_headers(payment_id), body)
end

local function stripe_confirm(intent_id)
  local path = "/v1/payment_intents/" .. intent_id .. "/confirm"
  return wrk.format("POST", path, form_headers(intent_id .. ":confirm"), "off_session=true")
end

local function paystack_charge(payment_id, amount)
  local headers = {
    ["Authorization"] = "Bearer " .. secret_key,
    ["Content-Type"] = "application/json",
  }
  local body = '{"email":"bench@example.com","amount":' .. amount ..
    ',"currency":"NGN","authorization_code":"AUTH_success","reference":"' .. payment_id .. '"}'
  return wrk.format("POST", "/transaction/charge_authorization", headers, body)
end

function request()
  local intent_id = table.remove(to_confirm)
  if intent_id then
    return stripe_confirm(intent_id)
  end
  counter = counter + 1
  local payment_id = "ceiling-" .. run_id .. "-" .. thread_id .. "-" .. counter
  local amount = 1000 + counter % 9000
  if counter % 100 < paystack_percent then
    return paystack_charge(payment_id, amount)
  end
  return stripe_create(payment_id, amount)
end

function response(status, headers, body)
  if status ~= 200 then
    return
  end
  if body:find('"status":%s*"requires_confirmation"') then
    table.insert(to_confirm, body:match('"id":%s*"(pi_[%w_]+)"'))
  elseif body:find('"status":%s*"succeeded"') or body:find('"status":%s*"success"') then
    payments = payments + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("payments")
  end
  io.write(string.format("payments: %d in %.3f s\n", total, summary.duration / 1e6))
end
