-- Kernel "objects", as benches/kernels/objects.mini: field loads and stores in a loop.
local function make(count)
  local points = {}
  local i = 0
  while i < count do
    points[i] = {x = i, y = 2 * i, hits = 0}
    i = i + 1
  end
  return points
end

local function walk(points, count, rounds)
  local sum = 0
  local r = 0
  while r < rounds do
    local i = 0
    while i < count do
      local p = points[i]
      p.x = (p.x + p.y) % 1000
      p.hits = p.hits + 1
      sum = sum + p.x
      i = i + 1
    end
    r = r + 1
  end
  return sum + points[0].hits
end

local n = 1000
print(walk(make(100), 100, n))
