--- CodeSaga ghost text for Neovim.
---
--- On Neovim 0.12+ this turns on the built-in `vim.lsp.inline_completion` and does nothing else.
--- On 0.11 it implements ghost text itself: after a short pause in insert mode it sends
--- `textDocument/inlineCompletion` to the buffer's `codesaga` client, shows the first item as
--- virtual text after the cursor (highlight group `CodeSagaGhostText`: grey in true-colour and
--- 256-colour terminals alike), accepts it with <Tab> (when one is shown; otherwise <Tab> does
--- what it did before), its next word with <M-Right> or its next line with <M-C-Right> (the rest
--- stays shown), and clears it on any other edit, cursor move or when leaving insert mode.
--- It tells the server when a suggestion is shown, partly accepted or dismissed (notifications)
--- and runs the item's command when it is accepted whole, for `codesaga stats`.
--- On every version it also defines `:CodeSagaChat` (see codesaga.chat).
---
--- Public API (all functions act on the current window and buffer):
---   setup(opts)  configure and start (see `defaults` below for the options)
---   request()    ask for a suggestion now; returns true when a request was sent
---   accept()     insert the shown suggestion; returns true when one was inserted
---   accept_word() insert the suggestion's next word; the rest stays shown (true when inserted)
---   accept_line() insert the rest of the suggestion's current line (or, at its end, the line
---                break and the next line); the rest stays shown (true when inserted)
---   clear()      hide the suggestion and cancel the pending request and debounce timer
---   current()    the shown suggestion or nil: { text, ghost, item, bufnr, row, col, client_id }
---                (text: the item's whole insert text; ghost: the part shown after the cursor;
---                 row/col: 0-based line and byte column where the ghost text is drawn)
---
--- No dependencies beyond Neovim itself.

local api = vim.api

local M = {}

local chat = require('codesaga.chat')

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
  --- Insert-mode keys that accept the suggestion's next word / the rest of its line, as
  --- copilot.vim binds them (`:help copilot-i_ALT-Right`); same fallback rule as accept_key.
  --- false: map nothing (use `<Plug>(codesaga-accept-word)` / `<Plug>(codesaga-accept-line)`).
  accept_word_key = '<M-Right>',
  accept_line_key = '<M-C-Right>',
  --- Insert-mode key that hides the suggestion (false: none). Leaving insert mode always does.
  dismiss_key = false,
  --- Highlight group of the ghost text. `CodeSagaGhostText` is defined (unless you defined it
  --- first) as grey: fg #808080, ctermfg 244, the colours copilot.vim gives its suggestions, so
  --- the suggestion stands apart from typed text with 'termguicolors' on or off.
  hl_group = 'CodeSagaGhostText',
  --- Where the first line is drawn: 'inline' (pushes the rest of the line right) or 'overlay'.
  virt_text_pos = 'inline',
  --- Name of the LSP client (the name used with vim.lsp.enable / vim.lsp.start).
  client_name = 'codesaga',
  --- 'auto': on Neovim 0.12+ use the built-in vim.lsp.inline_completion instead of this module.
  --- false: always use this module.
  native = 'auto',
  --- :CodeSagaChat's reply split: 'vertical' (right of the editor) or 'horizontal' (below).
  chat_split = 'vertical',
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

local call = chat.call -- client:request on 0.11, client.request on 0.10

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

local ACCEPT_COMMAND = 'codesaga.acceptInlineCompletion'

--- Length of `s` in UTF-16 code units (the unit of acceptedLength).
local function utf16_len(s)
  if HAS_011 then
    return vim.str_utfindex(s, 'utf-16')
  end
  local _, units = vim.str_utfindex(s)
  return units
end

--- Is `s` (a shown suggestion) a CodeSaga item, whose events the server records?
local function ours(s)
  local command = s.item.command
  return type(command) == 'table' and command.command == ACCEPT_COMMAND
end

--- Tell the server what became of `s` (see server/codesaga/lsp/suggestion_events.py):
--- `method` is textDocument/didShowCompletion, textDocument/didPartiallyAcceptCompletion
--- (with `accepted_length`: UTF-16 code units of the item's text taken so far) or
--- codesaga/didDismissCompletion. Items of other servers are not reported.
local function tell(s, method, accepted_length)
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client or not ours(s) then
    return
  end
  call(client, 'notify', method, { item = s.item, acceptedLength = accepted_length })
end

--- Tell the server that `s` was accepted whole: run the item's command as it came.
local function report(s)
  local command = s.item.command
  local client = vim.lsp.get_client_by_id(s.client_id)
  if type(command) ~= 'table' or not client then
    return
  end
  if client.exec_cmd then
    client:exec_cmd(command, { bufnr = s.bufnr })
  else
    call(client, 'request', 'workspace/executeCommand', {
      command = command.command,
      arguments = command.arguments,
    }, function() end, s.bufnr)
  end
end

--- Take the shown suggestion off the screen and out of the state; returns it (or nil).
local function take()
  local shown = state.shown
  state.shown = nil
  if shown and api.nvim_buf_is_valid(shown.bufnr) then
    pcall(api.nvim_buf_del_extmark, shown.bufnr, M.namespace, shown.extmark)
  end
  return shown
end

--- Hide the suggestion; when none of it was taken, tell the server it was dismissed (after
--- accept_word/accept_line the partial accepts were told already).
local function hide()
  local shown = take()
  if shown and shown.accepted == '' then
    tell(shown, 'codesaga/didDismissCompletion')
  end
end

local function expand_tabs(s, bufnr)
  local width = vim.bo[bufnr].tabstop
  return (s:gsub('\t', string.rep(' ', width > 0 and width or 8)))
end

-- ---------------------------------------------------------------------------------------------
-- showing a suggestion

--- Draw `ghost` at (row, col) (0-based, byte column): its first line inline (or overlaid) at
--- the position, the others as virtual lines below. Returns pcall's (ok, extmark id or error).
local function place(bufnr, row, col, ghost)
  local lines = vim.split(ghost, '\n', { plain = true })
  local opts = {
    -- 'replace': the text keeps its own colours. With 'combine' a match ending where it is
    -- drawn (MatchParen on the `(` or `{` just typed, a search hit) paints it too, so inside
    -- brackets a terminal showed the suggestion in the bracket's colour. ('cursorline' still
    -- shows behind it either way.)
    hl_mode = 'replace',
    priority = 200,
    -- The mark sits right of the position, so Neovim draws the cursor before the inline text,
    -- where the user types (with false it is drawn after the suggestion's end).
    right_gravity = true,
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
  return pcall(api.nvim_buf_set_extmark, bufnr, M.namespace, row, col, opts)
end

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

  local ok, extmark = place(bufnr, row, col, ghost)
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
    typed = typed, -- the item's text the user had typed before it was shown
    accepted = '', -- the part inserted by accept_word/accept_line so far
  }
  tell(state.shown, 'textDocument/didShowCompletion')
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

--- The shown suggestion if the buffer and cursor are still where it was drawn, else nil.
local function usable()
  local s = state.shown
  if
    not s
    or not api.nvim_buf_is_valid(s.bufnr)
    or api.nvim_get_current_buf() ~= s.bufnr
    or api.nvim_buf_get_changedtick(s.bufnr) ~= s.changedtick
  then
    return nil
  end
  return s
end

--- Insert the shown suggestion, move the cursor after it and report the acceptance to the
--- server (the item's command). Returns false when nothing is shown.
---@return boolean accepted
function M.accept()
  local s = usable()
  if not s then
    M.clear()
    return false
  end
  stop_timer()
  cancel_pending()
  take() -- accepted whole (after any partial accepts): the item's command says so
  local srow, scol, erow, ecol = unpack(s.range)
  local lines = vim.split(s.text, '\n', { plain = true })
  api.nvim_buf_set_text(s.bufnr, srow, scol, erow, ecol, lines)
  local last_row = srow + #lines - 1
  local last_col = (#lines == 1 and scol or 0) + #lines[#lines]
  pcall(api.nvim_win_set_cursor, 0, { last_row + 1, last_col })
  report(s)
  return true
end

--- The next word of `ghost`: leading white space (line breaks included), then a run of
--- punctuation, then a run of word characters (ASCII letters, digits, `_` and any non-ASCII
--- character, so Hangul words stay whole). E.g. 'item.quantity}' -> 'item', then '.quantity'.
local function next_word(ghost)
  local space = ghost:match('^%s*')
  local rest = ghost:sub(#space + 1)
  local punct = rest:match('^[^%w%s_\128-\255]*')
  local word = rest:sub(#punct + 1):match('^[%w_\128-\255]*')
  return space .. punct .. word
end

--- The rest of `ghost`'s first line; when it starts with a line break, that break and the next
--- line (without its own break).
local function next_line(ghost)
  local nl = ghost:find('\n', ghost:sub(1, 1) == '\n' and 2 or 1, true)
  return nl and ghost:sub(1, nl - 1) or ghost
end

--- Insert the part of the shown suggestion that `pick(ghost)` returns at the cursor, move the
--- cursor after it and draw the rest from the remaining text (no new request). When nothing
--- but white space would remain, the whole suggestion is accepted instead.
local function accept_part(pick)
  local s = usable()
  if not s then
    return false
  end
  local part = pick(s.ghost)
  if part == '' then
    return false
  end
  local rest = s.ghost:sub(#part + 1)
  if not rest:find('%S') then
    return M.accept()
  end
  stop_timer()
  cancel_pending()
  take()
  local lines = vim.split(part, '\n', { plain = true })
  api.nvim_buf_set_text(s.bufnr, s.row, s.col, s.row, s.col, lines)
  local row = s.row + #lines - 1
  local col = (#lines == 1 and s.col or 0) + #lines[#lines]
  pcall(api.nvim_win_set_cursor, 0, { row + 1, col })
  -- The item's range still ends after what it replaces: shift its end by the insertion.
  local srow, scol, erow, ecol = unpack(s.range)
  if erow == s.row then
    erow, ecol = row, col + (ecol - s.col)
  else
    erow = erow + #lines - 1
  end
  s.range = { srow, scol, erow, ecol }
  s.row, s.col, s.ghost = row, col, rest
  s.accepted = s.accepted .. part
  s.changedtick = api.nvim_buf_get_changedtick(s.bufnr)
  tell(s, 'textDocument/didPartiallyAcceptCompletion', utf16_len(s.typed .. s.accepted))
  local ok, extmark = place(s.bufnr, row, col, rest)
  if not ok then
    M.last_error = extmark
    return true
  end
  s.extmark = extmark
  state.shown = s
  return true
end

--- Insert the next word of the shown suggestion (see next_word); the rest stays shown.
---@return boolean accepted
function M.accept_word()
  return accept_part(next_word)
end

--- Insert the rest of the suggestion's current line, or at its end the line break and the next
--- line; the rest stays shown.
---@return boolean accepted
function M.accept_line()
  return accept_part(next_line)
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

--- Map `key` in insert mode to `<Plug>(codesaga-<name>)` while a suggestion is shown, and to
--- its previous action otherwise.
local function map_accept_key(key, name)
  local plug = '<Plug>(codesaga-' .. name .. ')'
  local fallback = '<Plug>(codesaga-fallback-' .. name .. ')'
  local desc = 'codesaga: ' .. name
  local previous = vim.fn.maparg(key, 'i', false, true)
  local ours = type(previous) == 'table' and (previous.desc or ''):find('^codesaga: accept')
  if type(previous) == 'table' and next(previous) and not ours then
    -- Keep what the key did before (another plugin's mapping) reachable as the fallback.
    local rhs = previous.callback or previous.rhs
    vim.keymap.set('i', fallback, rhs, {
      expr = previous.expr == 1,
      remap = previous.noremap == 0,
      silent = previous.silent == 1,
      replace_keycodes = previous.replace_keycodes == 1 or nil,
    })
  elseif not ours then
    vim.keymap.set('i', fallback, key) -- non-recursive: the key's built-in action
  end
  vim.keymap.set('i', key, function()
    if state.shown then
      return plug
    end
    return fallback
  end, { expr = true, remap = true, silent = true, desc = desc })
end

--- Define `CodeSagaGhostText` unless the user (or a colour scheme) already did: grey in GUI
--- and cterm colours (the values copilot.vim uses for its suggestions), so it differs from
--- typed text with 'termguicolors' off too (`Comment` often has a GUI colour only).
local function define_highlight()
  api.nvim_set_hl(0, 'CodeSagaGhostText', { fg = '#808080', ctermfg = 244, default = true })
end

--- Configure and start ghost text and :CodeSagaChat. Options: see `defaults` at the top.
---@param opts? codesaga.Options
function M.setup(opts)
  config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  chat.setup({ client_name = config.client_name, split = config.chat_split })
  -- The server's Markdown (chat, Explain) in the chat split, not in the current window. Taken
  -- when the client starts, so this works after vim.lsp.enable() as long as it runs before.
  if vim.lsp.config ~= nil then
    vim.lsp.config(config.client_name, { handlers = chat.handlers })
  end

  if config.native ~= false and vim.lsp.inline_completion ~= nil then
    -- Neovim 0.12+: the built-in client renders and accepts inline completions.
    state.native = true
    vim.lsp.inline_completion.enable()
    return
  end
  state.native = false

  define_highlight()

  vim.keymap.set('i', '<Plug>(codesaga-accept)', function()
    M.accept()
  end, { silent = true, desc = 'codesaga: insert the suggestion' })
  vim.keymap.set('i', '<Plug>(codesaga-accept-word)', function()
    M.accept_word()
  end, { silent = true, desc = "codesaga: insert the suggestion's next word" })
  vim.keymap.set('i', '<Plug>(codesaga-accept-line)', function()
    M.accept_line()
  end, { silent = true, desc = "codesaga: insert the suggestion's next line" })
  vim.keymap.set('i', '<Plug>(codesaga-dismiss)', function()
    M.clear()
  end, { silent = true, desc = 'codesaga: hide the suggestion' })
  vim.keymap.set('i', '<Plug>(codesaga-request)', function()
    M.request()
  end, { silent = true, desc = 'codesaga: suggest now' })
  if config.accept_key then
    map_accept_key(config.accept_key, 'accept')
  end
  if config.accept_word_key then
    map_accept_key(config.accept_word_key, 'accept-word')
  end
  if config.accept_line_key then
    map_accept_key(config.accept_line_key, 'accept-line')
  end
  if config.dismiss_key then
    vim.keymap.set('i', config.dismiss_key, '<Plug>(codesaga-dismiss)', { remap = true })
  end

  local group = api.nvim_create_augroup('codesaga', { clear = true })
  api.nvim_create_autocmd('ColorScheme', {
    group = group,
    desc = 'codesaga: define CodeSagaGhostText again after :colorscheme cleared it',
    callback = define_highlight,
  })
  api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    desc = 'codesaga: clear the suggestion and request a new one after a pause',
    callback = function()
      if state.shown and still_current(state.shown) then
        return -- accept_word/accept_line's own edit: the rest stays shown
      end
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
