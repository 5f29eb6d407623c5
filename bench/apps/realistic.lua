-- wrk script for bench/apps/realistic.ts: cycles through a fixed mix of requests, built once.
local headers = { ["Authorization"] = "Bearer bench", ["Origin"] = "https://example.test" }
local json = { ["Authorization"] = "Bearer bench", ["Content-Type"] = "application/json" }
local requests = {}
local n = 0

init = function(args)
  requests = {
    wrk.format("GET", "/api/users/42", headers),
    wrk.format("GET", "/api/users?limit=10&role=reader", headers),
    wrk.format("POST", "/api/users", json, '{"name":"Ada","email":"ada@example.test","roles":["reader","writer"]}'),
    wrk.format("GET", "/api/users/7", headers),
    wrk.format("GET", "/", nil),
  }
end

request = function()
  n = n % #requests + 1
  return requests[n]
end
