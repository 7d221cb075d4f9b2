-- Kernel "sieve", as benches/kernels/sieve.mini: counts the primes up to n.
-- Mini's `[0; n + 1]` is a loop here (Lua has no fill constructor).
local function sieve(n)
  local composite = {}
  local k = 0
  while k <= n do
    composite[k] = 0
    k = k + 1
  end
  local count = 0
  local i = 2
  while i <= n do
    if composite[i] == 0 then
      count = count + 1
      local j = i * i
      while j <= n do
        composite[j] = 1
        j = j + i
      end
    end
    i = i + 1
  end
  return count
end

local n = 200000
print(sieve(n))
