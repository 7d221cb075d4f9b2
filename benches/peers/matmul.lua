-- Kernel "matmul", as benches/kernels/matmul.mini: n x n matrices as arrays of rows.
local function zeros(n)
  local a = {}
  local k = 0
  while k < n do
    a[k] = 0
    k = k + 1
  end
  return a
end

local function matrix(n, seed)
  local m = zeros(n)
  local i = 0
  while i < n do
    local row = zeros(n)
    local j = 0
    while j < n do
      row[j] = (i * seed + j) % 10
      j = j + 1
    end
    m[i] = row
    i = i + 1
  end
  return m
end

local function multiply(a, b, n)
  local c = zeros(n)
  local i = 0
  while i < n do
    local row = zeros(n)
    local ai = a[i]
    local j = 0
    while j < n do
      local sum = 0
      local k = 0
      while k < n do
        sum = sum + ai[k] * b[k][j]
        k = k + 1
      end
      row[j] = sum
      j = j + 1
    end
    c[i] = row
    i = i + 1
  end
  return c
end

local function total(m, n)
  local sum = 0
  local i = 0
  while i < n do
    local j = 0
    while j < n do
      sum = sum + m[i][j]
      j = j + 1
    end
    i = i + 1
  end
  return sum
end

local n = 50
local c = multiply(matrix(n, 3), matrix(n, 7), n)
print(total(c, n))
