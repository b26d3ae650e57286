--- CodeSaga chat for Neovim: `:[range]CodeSagaChat[!] [message]`.
---
--- Sends the server's `codesaga/chat` request (see server/codesaga/lsp/chat.py) and shows the
--- conversation in a Markdown scratch buffer (`codesaga://chat`) in a split beside the editor.
--- The reply is streamed into it as the server's `$/progress` partial results arrive (the
--- request carries a `partialResultToken`; each value is `{ delta = string }`), then replaced
--- by the final reply. The split is reused: asking again, from any buffer or from the chat
--- buffer itself, appends to it. The window you typed the command in stays the current one.
---
--- Context: asked from a buffer CodeSaga is attached to, the request names that document and
--- the lines of [range] (a visual selection: `:'<,'>CodeSagaChat ...`), or without a range the
--- cursor's position (the server then takes the function or class around it). Asked from the
--- chat buffer, the question goes to the server of the buffer the conversation started from
--- (or any CodeSaga client) with no document: the session already holds the code.
--- `!` starts a new conversation (session); without a message you are prompted for one.
---
--- `handlers['window/showDocument']` (given to the client by setup()) opens the Markdown files the
--- server writes for the `codesaga.chat` command and the Explain code action in the same
--- split instead of the current window; any other document goes to Neovim's own handler.
---
--- Public API:
---   ask(message, opts)  opts: { bufnr?, range? = { first_line, last_line } (1-based), new? }
---                       returns true when a request was sent
---   open()              show the chat split (created or reused); returns its window
---   state()             { bufnr, win, session_id, pending } for tests and statuslines

local api = vim.api

local M = {}

local config = {
  client_name = 'codesaga',
  split = 'vertical', -- or 'horizontal'
}

local state = {
  bufnr = nil, ---@type integer?
  win = nil, ---@type integer?
  session_id = nil, ---@type string?
  source_bufnr = nil, ---@type integer? the buffer the conversation started from
  pending = nil, ---@type { client: vim.lsp.Client, id: integer, token: string, start: integer }?
  sequence = 0,
}

local BUFFER_NAME = 'codesaga://chat'

-- ---------------------------------------------------------------------------------------------
-- the split

local function chat_buffer()
  if state.bufnr and api.nvim_buf_is_valid(state.bufnr) then
    return state.bufnr
  end
  local bufnr = api.nvim_create_buf(false, true) -- unlisted scratch buffer
  vim.bo[bufnr].filetype = 'markdown'
  vim.bo[bufnr].bufhidden = 'hide'
  pcall(api.nvim_buf_set_name, bufnr, BUFFER_NAME)
  state.bufnr = bufnr
  return bufnr
end

--- The split's window if it is still open in this tab page.
local function split_window()
  local win = state.win
  local tab = api.nvim_get_current_tabpage()
  if win and api.nvim_win_is_valid(win) and api.nvim_win_get_tabpage(win) == tab then
    return win
  end
  for _, w in ipairs(api.nvim_tabpage_list_wins(0)) do
    if vim.w[w].codesaga_chat then
      return w
    end
  end
  return nil
end

--- Show `bufnr` in the chat split (opened beside the editor when missing), without entering it.
local function show_in_split(bufnr)
  local win = split_window()
  if win then
    if api.nvim_win_get_buf(win) ~= bufnr then
      api.nvim_win_set_buf(win, bufnr)
    end
  else
    win = api.nvim_open_win(bufnr, false, {
      split = config.split == 'horizontal' and 'below' or 'right',
      win = -1, -- beside all windows, like :botright
    })
    vim.w[win].codesaga_chat = true
  end
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  state.win = win
  return win
end

--- Show the chat split (created or reused); returns its window.
function M.open()
  return show_in_split(chat_buffer())
end

local function scroll_to_end()
  local win = split_window()
  if win and api.nvim_win_get_buf(win) == state.bufnr then
    pcall(api.nvim_win_set_cursor, win, { api.nvim_buf_line_count(state.bufnr), 0 })
  end
end

local function append_lines(lines)
  local bufnr = chat_buffer()
  local count = api.nvim_buf_line_count(bufnr)
  local empty = count == 1 and api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] == ''
  api.nvim_buf_set_lines(bufnr, empty and 0 or count, -1, false, lines)
end

--- Append `text` (may hold line breaks) at the end of the chat buffer's last line.
local function append_text(text)
  local bufnr = chat_buffer()
  local last = api.nvim_buf_line_count(bufnr) - 1
  local line = api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1]
  api.nvim_buf_set_text(bufnr, last, #line, last, #line, vim.split(text, '\n', { plain = true }))
end

--- Replace everything from line `start` (0-based) to the end with `text`.
local function replace_answer(start, text)
  local lines = vim.split(text, '\n', { plain = true })
  table.insert(lines, '')
  api.nvim_buf_set_lines(chat_buffer(), start, -1, false, lines)
end

-- ---------------------------------------------------------------------------------------------
-- asking

local HAS_011 = vim.fn.has('nvim-0.11') == 1

--- client:request / client:cancel_request on 0.11 (methods take self), client.request(...)
--- on 0.10. Shared with init.lua.
local function call(client, method, ...)
  if HAS_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end
M.call = call

local function clients_named()
  return vim.lsp.get_clients({ name = config.client_name })
end

--- The client to ask: the buffer's own, else the one of the buffer the conversation started
--- from, else any CodeSaga client. Also returns whether it is attached to `bufnr`.
local function pick_client(bufnr)
  local own = vim.lsp.get_clients({ bufnr = bufnr, name = config.client_name })[1]
  if own then
    return own, true
  end
  local source = state.source_bufnr
  if source and api.nvim_buf_is_valid(source) then
    local theirs = vim.lsp.get_clients({ bufnr = source, name = config.client_name })[1]
    if theirs then
      return theirs, false
    end
  end
  return clients_named()[1], false
end

--- Length of `line` in the client's position encoding.
local function line_units(line, encoding)
  if encoding == 'utf-8' then
    return #line
  end
  if HAS_011 then
    return vim.str_utfindex(line, encoding)
  end
  local utf32, utf16 = vim.str_utfindex(line)
  return encoding == 'utf-16' and utf16 or utf32
end

--- The LSP range of lines first..last (1-based, inclusive) of `bufnr`.
local function lines_range(bufnr, first, last, encoding)
  local line = api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ''
  return {
    start = { line = first - 1, character = 0 },
    ['end'] = { line = last - 1, character = line_units(line, encoding) },
  }
end

local function finish(pending, err, result)
  if state.pending ~= pending then
    return -- superseded by a newer question
  end
  state.pending = nil
  if err then
    if err.code ~= -32800 then -- RequestCancelled: a newer question took over
      replace_answer(pending.start, ('_CodeSaga: %s_'):format(err.message or vim.inspect(err)))
    end
  elseif type(result) == 'table' then
    state.session_id = result.sessionId or state.session_id
    replace_answer(pending.start, tostring(result.reply or ''))
  end
  scroll_to_end()
end

--- Ask `message`. opts: bufnr (the buffer asked from, default current), range (1-based first
--- and last line of a selection), new (start a new conversation). Returns true when sent.
---@param message string
---@param opts? { bufnr?: integer, range?: integer[], new?: boolean }
---@return boolean sent
function M.ask(message, opts)
  opts = opts or {}
  local bufnr = opts.bufnr or api.nvim_get_current_buf()
  if bufnr == state.bufnr then
    bufnr = -1 -- the chat buffer: no document of its own
  end
  local client, attached = pick_client(bufnr)
  if not client then
    vim.notify('CodeSaga: no codesaga language server is running', vim.log.levels.ERROR)
    return false
  end
  if opts.new then
    state.session_id = nil
  end

  local params = { message = message, sessionId = state.session_id }
  if attached then
    params.textDocument = { uri = vim.uri_from_bufnr(bufnr) }
    if opts.range then
      params.range = lines_range(bufnr, opts.range[1], opts.range[2], client.offset_encoding)
    elseif bufnr == api.nvim_get_current_buf() then
      params.range = vim.lsp.util.make_range_params(0, client.offset_encoding).range
    end
    state.source_bufnr = bufnr
  end
  state.sequence = state.sequence + 1
  local token = ('codesaga-chat-%d-%d'):format(vim.fn.getpid(), state.sequence)
  params.partialResultToken = token
  params.workDoneToken = token .. '-work' -- "CodeSaga chat: thinking…" in vim.lsp.status()

  if state.pending then
    pcall(call, state.pending.client, 'cancel_request', state.pending.id)
    state.pending = nil
  end
  M.open()
  local header = { '## You', '' }
  if opts.new and api.nvim_buf_line_count(state.bufnr) > 1 then
    header = { '---', '', '## You', '' } -- a new conversation starts below a rule
  end
  vim.list_extend(header, vim.split(message, '\n', { plain = true }))
  vim.list_extend(header, { '', '## CodeSaga', '', '' })
  append_lines(header)
  local start = api.nvim_buf_line_count(state.bufnr) - 1 -- the answer's first line
  local pending = { client = client, token = token, start = start }
  local ok, id = call(client, 'request', 'codesaga/chat', params, function(err, result)
    finish(pending, err, result)
  end, attached and bufnr or nil)
  if not ok or id == nil then
    replace_answer(pending.start, '_CodeSaga: the request could not be sent_')
    return false
  end
  pending.id = id
  state.pending = pending
  scroll_to_end()
  return true
end

--- A `$/progress` partial result of the pending question: append its delta.
local function on_progress(args)
  local pending = state.pending
  local params = args.data and args.data.params
  if not pending or not params or params.token ~= pending.token then
    return
  end
  local value = params.value
  if type(value) == 'table' and type(value.delta) == 'string' then
    append_text(value.delta)
    scroll_to_end()
  end
end

--- The chat state, for tests and statuslines.
function M.state()
  return {
    bufnr = state.bufnr,
    win = split_window(),
    session_id = state.session_id,
    pending = state.pending ~= nil,
  }
end

-- ---------------------------------------------------------------------------------------------
-- window/showDocument

--- `window/showDocument` for the codesaga client: the server's Markdown files (the chat and
--- Explain replies it writes under its cache dir, always sent with takeFocus) open in the chat
--- split; the current window keeps its buffer and the focus. Anything else (external URIs,
--- other files) goes to Neovim's handler.
---@type lsp.Handler
local function show_document(err, params, ctx)
  local uri = params and params.uri or ''
  if params.external or not vim.startswith(uri, 'file:') or not uri:match('%.md$') then
    return vim.lsp.handlers['window/showDocument'](err, params, ctx)
  end
  local bufnr = vim.fn.bufadd(vim.uri_to_fname(uri))
  vim.fn.bufload(bufnr)
  -- the server rewrites the file on every turn: read it again unless the user edited it
  if not vim.bo[bufnr].modified then
    api.nvim_buf_call(bufnr, function()
      vim.cmd('silent! edit!')
    end)
  end
  vim.bo[bufnr].buflisted = true
  local win = show_in_split(bufnr)
  pcall(api.nvim_win_set_cursor, win, { 1, 0 })
  return { success = true }
end

--- Handlers for the codesaga client (codesaga.setup() adds them to vim.lsp.config; pass them
--- to vim.lsp.start yourself on older setups).
M.handlers = {
  ['window/showDocument'] = show_document,
}

-- ---------------------------------------------------------------------------------------------
-- setup

--- Define :CodeSagaChat and follow partial results. opts: { client_name, split }.
function M.setup(opts)
  config = vim.tbl_extend('force', config, opts or {})
  local group = api.nvim_create_augroup('codesaga-chat', { clear = true })
  api.nvim_create_autocmd('LspProgress', {
    group = group,
    desc = 'codesaga: stream chat replies',
    callback = on_progress,
  })
  api.nvim_create_user_command('CodeSagaChat', function(cmd)
    local range = cmd.range > 0 and { cmd.line1, cmd.line2 } or nil
    local bufnr = api.nvim_get_current_buf()
    local function send(message)
      if message and message:find('%S') then
        M.ask(message, { bufnr = bufnr, range = range, new = cmd.bang })
      elseif message ~= nil then
        M.open()
      end
    end
    if cmd.args ~= '' then
      send(cmd.args)
    else
      vim.ui.input({ prompt = 'CodeSaga chat: ' }, send)
    end
  end, {
    nargs = '*',
    range = true,
    bang = true,
    desc = 'CodeSaga: ask about the code (the selection, or the function at the cursor)',
  })
end

return M
