-- Kernel "calls", as benches/kernels/calls.mini: three small calls per iteration,
-- one of them through a function value.
local function add(a, b)
  return a + b
end

local function square(x)
  return x * x
end

local function step(sum, i, f)
  return f(sum, square(i % 10)) % 1000003
end

local n = 150000
local sum = 0
local i = 0
while i < n do
  sum = step(sum, i, add)
  i = i + 1
end
print(sum)
