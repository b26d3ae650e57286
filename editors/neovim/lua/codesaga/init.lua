--- CodeSaga ghost text for Neovim.
---
--- On Neovim 0.12+ this turns on the built-in `vim.lsp.inline_completion` and does nothing else.
--- On 0.11 it implements ghost text itself: after a short pause in insert mode it sends
--- `textDocument/inlineCompletion` to the buffer's `codesaga` client, shows the first item as
--- virtual text after the cursor, accepts it with <Tab> (when one is shown; otherwise <Tab> does
--- what it did before) and clears it on any other edit, cursor move or when leaving insert mode.
---
--- Public API (all functions act on the current window and buffer):
---   setup(opts)  configure and start (see `defaults` below for the options)
---   request()    ask for a suggestion now; returns true when a request was sent
---   accept()     insert the shown suggestion; returns true when one was inserted
---   clear()      hide the suggestion and cancel the pending request and debounce timer
---   current()    the shown suggestion or nil: { text, ghost, item, bufnr, row, col, client_id }
---                (text: the item's whole insert text; ghost: the part shown after the cursor;
---                 row/col: 0-based line and byte column where the ghost text is drawn)
---
--- No dependencies beyond Neovim itself.

local api = vim.api

local M = {}

--- Extmark namespace of the ghost text (exposed for tests and statusline plugins).
M.namespace = api.nvim_create_namespace('codesaga')

local METHOD = 'textDocument/inlineCompletion'
local TRIGGER_INVOKED = 1 -- lsp.InlineCompletionTriggerKind.Invoked
local TRIGGER_AUTOMATIC = 2 -- lsp.InlineCompletionTriggerKind.Automatic
local HAS_011 = vim.fn.has('nvim-0.11') == 1

---@class codesaga.Options
local defaults = {
  --- Milliseconds of quiet after a keystroke before a suggestion is requested.
  debounce_ms = 150,
  --- Request suggestions automatically while typing (false: only on `request()`).
  auto_trigger = true,
  --- Insert-mode key that accepts a shown suggestion; any other time it keeps its usual
  --- action (or mapping). false: map nothing (use `<Plug>(codesaga-accept)` yourself).
  accept_key = '<Tab>',
  --- Insert-mode key that hides the suggestion (false: none). Leaving insert mode always does.
  dismiss_key = false,
  --- Highlight group of the ghost text; by default it links to `Comment`.
  hl_group = 'CodeSagaGhostText',
  --- Where the first line is drawn: 'inline' (pushes the rest of the line right) or 'overlay'.
  virt_text_pos = 'inline',
  --- Name of the LSP client (the name used with vim.lsp.enable / vim.lsp.start).
  client_name = 'codesaga',
  --- 'auto': on Neovim 0.12+ use the built-in vim.lsp.inline_completion instead of this module.
  --- false: always use this module.
  native = 'auto',
}

---@type codesaga.Options
local config = vim.deepcopy(defaults)

local state = {
  timer = nil, ---@type uv.uv_timer_t?
  pending = nil, ---@type { client: vim.lsp.Client, id: integer, token: integer }?
  shown = nil, ---@type table?
  token = 0,
  enabled = false,
  native = false,
}

--- Errors from the last request (other than cancellation), for :lua print(...) debugging.
M.last_error = nil

-- ---------------------------------------------------------------------------------------------
-- helpers

local function call(client, method, ...)
  -- Neovim 0.11 made client methods take self (client:request); 0.10 used client.request.
  if HAS_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function get_client(bufnr)
  local clients = vim.lsp.get_clients({ bufnr = bufnr, name = config.client_name })
  for _, client in ipairs(clients) do
    local caps = client.server_capabilities or {}
    if caps.inlineCompletionProvider then
      return client
    end
  end
  return nil
end

--- Byte column of an LSP position on its line (clamped to the line), nil past the last line.
local function byte_col(bufnr, pos, encoding)
  local line = api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1]
  if line == nil then
    return nil
  end
  local character = math.max(pos.character or 0, 0)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if HAS_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok or col == nil then
    return #line
  end
  return math.min(col, #line)
end

--- Plain text of an item's insertText (a string, or a StringValue snippet).
local function item_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    -- Snippet: keep placeholder defaults, drop tab stops. Good enough for display and insert.
    text = tostring(text.value or '')
    text = text:gsub('%${%d+:([^}]*)}', '%1'):gsub('%${%d+}', ''):gsub('%$%d+', '')
  end
  if type(text) ~= 'string' then
    return ''
  end
  return (text:gsub('\r\n', '\n'))
end

local function stop_timer()
  if state.timer then
    state.timer:stop()
  end
end

local function cancel_pending()
  local pending = state.pending
  state.pending = nil
  if pending then
    pcall(call, pending.client, 'cancel_request', pending.id)
  end
end

local function hide()
  local shown = state.shown
  state.shown = nil
  if shown and api.nvim_buf_is_valid(shown.bufnr) then
    pcall(api.nvim_buf_del_extmark, shown.bufnr, M.namespace, shown.extmark)
  end
end

local function expand_tabs(s, bufnr)
  local width = vim.bo[bufnr].tabstop
  return (s:gsub('\t', string.rep(' ', width > 0 and width or 8)))
end

-- ---------------------------------------------------------------------------------------------
-- showing a suggestion

--- Draw `item` as ghost text at the cursor. Returns true when something is shown.
local function show(item, client, ctx)
  local bufnr = ctx.bufnr
  local row, col = ctx.row, ctx.col
  local text = item_text(item)

  -- The range the item replaces, in bytes. Items without a range insert at the cursor.
  local srow, scol, erow, ecol = row, col, row, col
  if type(item.range) == 'table' and item.range.start and item.range['end'] then
    srow = item.range.start.line
    scol = byte_col(bufnr, item.range.start, client.offset_encoding)
    erow = item.range['end'].line
    ecol = byte_col(bufnr, item.range['end'], client.offset_encoding)
    if scol == nil or ecol == nil then
      return false
    end
  end
  -- Only ranges that start on the cursor's line, at or before the cursor, can be shown as text
  -- after the cursor: what the user already typed inside the range must start the item.
  if srow ~= row or scol > col then
    return false
  end
  if erow < row or (erow == row and ecol < col) then
    erow, ecol = row, col
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local typed = line:sub(scol + 1, col)
  if text:sub(1, #typed) ~= typed then
    return false
  end
  local ghost = text:sub(#typed + 1)
  if not ghost:find('%S') then
    return false
  end

  local lines = vim.split(ghost, '\n', { plain = true })
  local opts = {
    hl_mode = 'combine',
    priority = 200,
    right_gravity = false,
  }
  if lines[1] ~= '' then
    opts.virt_text = { { expand_tabs(lines[1], bufnr), config.hl_group } }
    opts.virt_text_pos = config.virt_text_pos
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { expand_tabs(lines[i], bufnr), config.hl_group } })
    end
  end
  local ok, extmark = pcall(api.nvim_buf_set_extmark, bufnr, M.namespace, row, col, opts)
  if not ok then
    M.last_error = extmark
    return false
  end
  state.shown = {
    bufnr = bufnr,
    row = row,
    col = col,
    range = { srow, scol, erow, ecol },
    text = text,
    ghost = ghost,
    item = item,
    client_id = client.id,
    extmark = extmark,
    changedtick = ctx.changedtick,
  }
  api.nvim_exec_autocmds('User', { pattern = 'CodeSagaSuggestion', modeline = false })
  return true
end

--- Is the context a request was made in still the current one?
local function still_current(ctx)
  if not in_insert_mode() or api.nvim_get_current_buf() ~= ctx.bufnr then
    return false
  end
  if api.nvim_buf_get_changedtick(ctx.bufnr) ~= ctx.changedtick then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  return cursor[1] - 1 == ctx.row and cursor[2] == ctx.col
end

-- ---------------------------------------------------------------------------------------------
-- public API

--- Hide the suggestion, cancel the pending request and the debounce timer.
function M.clear()
  stop_timer()
  cancel_pending()
  hide()
end

--- The shown suggestion, or nil.
---@return { text: string, ghost: string, item: table, bufnr: integer, row: integer, col: integer, client_id: integer }?
function M.current()
  local s = state.shown
  if not s then
    return nil
  end
  return {
    text = s.text,
    ghost = s.ghost,
    item = s.item,
    bufnr = s.bufnr,
    row = s.row,
    col = s.col,
    client_id = s.client_id,
  }
end

--- Ask the buffer's CodeSaga client for a suggestion at the cursor now.
---@param opts? { trigger_kind?: integer }
---@return boolean sent
function M.request(opts)
  opts = opts or {}
  if state.native then
    return false
  end
  stop_timer()
  cancel_pending()
  hide()
  local bufnr = api.nvim_get_current_buf()
  local client = get_client(bufnr)
  if not client then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  local ctx = {
    bufnr = bufnr,
    row = cursor[1] - 1,
    col = cursor[2],
    changedtick = api.nvim_buf_get_changedtick(bufnr),
  }
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = opts.trigger_kind or TRIGGER_INVOKED }
  state.token = state.token + 1
  local token = state.token
  local ok, id = call(client, 'request', METHOD, params, function(err, result)
    if state.pending == nil or state.pending.token ~= token then
      return -- cancelled or superseded
    end
    state.pending = nil
    if err then
      -- -32800 RequestCancelled: a newer request won; anything else is kept for debugging.
      if err.code ~= -32800 then
        M.last_error = err
      end
      return
    end
    if result == nil or result == vim.NIL or not still_current(ctx) then
      return
    end
    local items = result.items or result
    for _, item in ipairs(items) do
      if show(item, client, ctx) then
        return
      end
    end
  end, bufnr)
  if not ok or id == nil then
    return false
  end
  state.pending = { client = client, id = id, token = token }
  return true
end

--- Insert the shown suggestion, move the cursor after it and report the acceptance to the
--- server (the item's command). Returns false when nothing is shown.
---@return boolean accepted
function M.accept()
  local s = state.shown
  if not s then
    return false
  end
  M.clear()
  if
    not api.nvim_buf_is_valid(s.bufnr)
    or api.nvim_get_current_buf() ~= s.bufnr
    or api.nvim_buf_get_changedtick(s.bufnr) ~= s.changedtick
  then
    return false
  end
  local srow, scol, erow, ecol = unpack(s.range)
  local lines = vim.split(s.text, '\n', { plain = true })
  api.nvim_buf_set_text(s.bufnr, srow, scol, erow, ecol, lines)
  local last_row = srow + #lines - 1
  local last_col = (#lines == 1 and scol or 0) + #lines[#lines]
  pcall(api.nvim_win_set_cursor, 0, { last_row + 1, last_col })

  local command = s.item.command
  local client = vim.lsp.get_client_by_id(s.client_id)
  if command and client then
    if client.exec_cmd then
      client:exec_cmd(command, { bufnr = s.bufnr })
    else
      call(client, 'request', 'workspace/executeCommand', {
        command = command.command,
        arguments = command.arguments,
      }, function() end, s.bufnr)
    end
  end
  return true
end

-- ---------------------------------------------------------------------------------------------
-- setup

local function schedule_request()
  if not config.auto_trigger then
    return
  end
  local bufnr = api.nvim_get_current_buf()
  if not get_client(bufnr) then
    return
  end
  state.timer = state.timer or vim.uv.new_timer()
  state.timer:stop()
  state.timer:start(
    config.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if in_insert_mode() and api.nvim_get_current_buf() == bufnr then
        M.request({ trigger_kind = TRIGGER_AUTOMATIC })
      end
    end)
  )
end

--- Map `key` in insert mode to accept a shown suggestion, and to its previous action otherwise.
local function map_accept_key(key)
  local fallback = '<Plug>(codesaga-fallback)'
  local previous = vim.fn.maparg(key, 'i', false, true)
  if type(previous) == 'table' and next(previous) and previous.desc ~= 'codesaga: accept' then
    -- Keep what the key did before (another plugin's mapping) reachable as the fallback.
    local rhs = previous.callback or previous.rhs
    vim.keymap.set('i', fallback, rhs, {
      expr = previous.expr == 1,
      remap = previous.noremap == 0,
      silent = previous.silent == 1,
      replace_keycodes = previous.replace_keycodes == 1 or nil,
    })
  elseif type(previous) ~= 'table' or previous.desc ~= 'codesaga: accept' then
    vim.keymap.set('i', fallback, key) -- non-recursive: the key's built-in action
  end
  vim.keymap.set('i', key, function()
    if state.shown then
      return '<Plug>(codesaga-accept)'
    end
    return fallback
  end, { expr = true, remap = true, silent = true, desc = 'codesaga: accept' })
end

--- Configure and start ghost text. Options: see `defaults` at the top of this file.
---@param opts? codesaga.Options
function M.setup(opts)
  config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})

  if config.native ~= false and vim.lsp.inline_completion ~= nil then
    -- Neovim 0.12+: the built-in client renders and accepts inline completions.
    state.native = true
    vim.lsp.inline_completion.enable()
    return
  end
  state.native = false

  api.nvim_set_hl(0, 'CodeSagaGhostText', { link = 'Comment', default = true })

  vim.keymap.set('i', '<Plug>(codesaga-accept)', function()
    M.accept()
  end, { silent = true, desc = 'codesaga: insert the suggestion' })
  vim.keymap.set('i', '<Plug>(codesaga-dismiss)', function()
    M.clear()
  end, { silent = true, desc = 'codesaga: hide the suggestion' })
  vim.keymap.set('i', '<Plug>(codesaga-request)', function()
    M.request()
  end, { silent = true, desc = 'codesaga: suggest now' })
  if config.accept_key then
    map_accept_key(config.accept_key)
  end
  if config.dismiss_key then
    vim.keymap.set('i', config.dismiss_key, '<Plug>(codesaga-dismiss)', { remap = true })
  end

  local group = api.nvim_create_augroup('codesaga', { clear = true })
  api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    desc = 'codesaga: clear the suggestion and request a new one after a pause',
    callback = function()
      stop_timer()
      cancel_pending()
      hide()
      schedule_request()
    end,
  })
  api.nvim_create_autocmd({ 'TextChangedP', 'InsertLeave', 'BufLeave' }, {
    group = group,
    desc = 'codesaga: clear the suggestion',
    callback = M.clear,
  })
  api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      if state.shown and state.shown.client_id == args.data.client_id then
        M.clear()
      end
    end,
  })
  state.enabled = true
end

return M
