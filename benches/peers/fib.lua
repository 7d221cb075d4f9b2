-- Kernel "fib", as benches/kernels/fib.mini: recursive calls.
local function fib(n)
  if n < 2 then
    return n
  end
  return fib(n - 1) + fib(n - 2)
end

local n = 25
print(fib(n))
