-- Kernel "loop", as benches/kernels/loop.mini: an arithmetic loop on locals.
local n = 400000
local sum = 0
local i = 0
while i < n do
  sum = sum + i * 3 - 7
  if sum > 1000003 then
    sum = sum - 1000003
  end
  i = i + 1
end
print(sum)
