-- wrk script: POST /v1/payments with a fresh Idempotency-Key on every request.
-- Environment: API_KEY (bearer key of a merchant registered in the target's Redis).

local counter = 0
local prefix = tostring(math.random(1, 2147483647)) .. "-" .. tostring(os.time())
local body = '{"amount":2500,"currency":"usd","payment_method":"pm_card_visa",' ..
  '"customer":{"email":"bench@example.com"},"metadata":{"order":"bench"}}'
local api_key = os.getenv("API_KEY") or "none"

function setup(thread)
  thread:set("thread_prefix", tostring(math.random(1, 2147483647)))
end

function request()
  counter = counter + 1
  local headers = {
    ["Authorization"] = "Bearer " .. api_key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. (thread_prefix or "t") .. "-" .. counter,
  }
  return wrk.format("POST", "/v1/payments", headers, body)
end

function response(status)
  if status ~= 202 then
    error("unexpected status " .. status)
  end
end
