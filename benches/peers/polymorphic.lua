-- Kernel "polymorphic", as benches/kernels/polymorphic.mini: tables of three layouts,
-- made in the loop, all through one function.
local function area(s)
  s.x = s.x + 1
  return s.w * s.h + s.x
end

local n = 10000
local sum = 0
local i = 0
while i < n do
  local k = i % 3
  local s
  if k == 0 then
    s = {x = i % 100, w = 2, h = 3}
  elseif k == 1 then
    s = {w = 4, h = i % 7, x = 1}
  else
    s = {h = 5, x = 2, w = i % 11, tag = k}
  end
  sum = (sum + area(s)) % 1000003
  i = i + 1
end
print(sum)
