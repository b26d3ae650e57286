-- The screen as a terminal user sees it: a UI attached to this very Neovim over its own RPC
-- socket (`nvim_ui_attach` with ext_linegrid and rgb = false, i.e. the cterm colours a
-- terminal without true colour gets), kept up to date from the `redraw` notifications.
-- Headless Neovim has no other UI, so this is the screen: text, per-cell cterm attributes and
-- where the cursor is drawn.
--
--   local screen = dofile('nvim_screen.lua')
--   screen.attach(80, 24)
--   ... screen.row(0) -> { text = '...', cells = { { 'c', cterm_fg, italic }, ... } }
--   ... screen.cursor() -> { row, col } (0-based, display cells)
local api = vim.api

local M = { width = 0, height = 0, flushes = 0 }
local grid = {} ---@type table<integer, table<integer, { [1]: string, [2]: integer }>>
local attrs = { [0] = {} } ---@type table<integer, table> cterm attributes by hl id
local cursor = { 0, 0 }

local function blank_row()
  local row = {}
  for c = 0, M.width - 1 do
    row[c] = { ' ', 0 }
  end
  return row
end

local function clear()
  for r = 0, M.height - 1 do
    grid[r] = blank_row()
  end
end

local handlers = {}

function handlers.grid_resize(_, width, height)
  M.width, M.height = width, height
  clear()
end

function handlers.grid_clear()
  clear()
end

function handlers.hl_attr_define(id, _rgb, cterm)
  attrs[id] = cterm
end

function handlers.grid_cursor_goto(_, row, col)
  cursor = { row, col }
end

function handlers.grid_line(_, row, col, cells)
  local line = grid[row]
  if not line then
    return
  end
  local hl = 0
  for _, cell in ipairs(cells) do
    hl = cell[2] or hl
    for _ = 1, cell[3] or 1 do
      line[col] = { cell[1], hl }
      col = col + 1
    end
  end
end

function handlers.grid_scroll(_, top, bot, left, right, rows)
  local step = rows > 0 and 1 or -1
  local first, last = rows > 0 and top or bot - 1, rows > 0 and bot - 1 - rows or top - rows
  for r = first, last, step do
    for c = left, right - 1 do
      grid[r][c] = grid[r + rows][c]
    end
  end
end

function handlers.flush()
  M.flushes = M.flushes + 1
end

local function on_redraw(events)
  for _, event in ipairs(events) do
    local handler = handlers[event[1]]
    if handler then
      for i = 2, #event do
        handler(unpack(event[i]))
      end
    end
  end
end

local function ext(_, data)
  return data
end

--- Attach a `width` x `height` cterm UI to this Neovim.
function M.attach(width, height)
  local unpacker = vim.mpack.Unpacker({ ext = { [0] = ext, [1] = ext, [2] = ext } })
  local pending = ''
  local channel = vim.fn.sockconnect('pipe', vim.v.servername, {
    on_data = function(_, data)
      -- a raw channel's data: lines split at "\n", with NUL bytes read as "\n"
      local parts = {}
      for i, part in ipairs(data) do
        parts[i] = (part:gsub('\n', '\0'))
      end
      pending = pending .. table.concat(parts, '\n')
      local pos = 1
      while pos <= #pending do
        local message, next_pos = unpacker(pending, pos)
        pos = next_pos
        if message == nil then
          break
        end
        if message[1] == 2 and message[2] == 'redraw' then
          on_redraw(message[3])
        end
      end
      pending = pending:sub(pos)
    end,
  })
  assert(channel > 0, 'could not connect to ' .. vim.v.servername)
  local options = { ext_linegrid = true, rgb = false }
  local request = { 0, 1, 'nvim_ui_attach', { width, height, options } }
  vim.fn.chansend(channel, vim.mpack.encode(request))
end

--- Row `r` (0-based): its text and, per display cell, { text, cterm foreground (-1: the
--- terminal's default), italic }. A double-width character's second cell has text ''.
function M.row(r)
  local text, cells = {}, {}
  for c = 0, M.width - 1 do
    local cell = grid[r] and grid[r][c] or { ' ', 0 }
    local a = attrs[cell[2]] or {}
    table.insert(text, cell[1])
    table.insert(cells, { cell[1], a.foreground or -1, a.italic == true })
  end
  return { text = table.concat(text), cells = cells }
end

--- Every row's text.
function M.lines()
  local lines = {}
  for r = 0, M.height - 1 do
    table.insert(lines, M.row(r).text)
  end
  return lines
end

--- Where the cursor is drawn: { row, col }, 0-based display cells.
function M.cursor()
  return { cursor[1], cursor[2] }
end

--- Let Neovim redraw and the UI receive it: returns once `quiet_ms` pass without a flush.
---@param sleep fun(ms: integer)
function M.settle(sleep, quiet_ms)
  quiet_ms = quiet_ms or 60
  sleep(quiet_ms)
  local seen = M.flushes
  for _ = 1, 50 do
    sleep(quiet_ms)
    if M.flushes == seen then
      return
    end
    seen = M.flushes
  end
end

return M
