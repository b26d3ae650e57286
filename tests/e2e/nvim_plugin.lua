-- Drives headless Neovim like a user: sources the init file the test wrote (the README's setup
-- plus a `cmd` override), opens a file, enters insert mode at a position and types keys. Run as
--   nvim --headless --clean -S nvim_plugin.lua
-- (not `-l`: a `-l` script ends Neovim as soon as insert mode waits for input).
--
-- Environment: CODESAGA_INIT (init file), CODESAGA_FILE, CODESAGA_CURSOR ("line:col", 0-based,
-- col in bytes), CODESAGA_SCENARIO ("model" | "fake" | "mapped_tab" | "screen" | "partial" |
-- "chat" | "chat_model" | "code_action", with CODESAGA_ACTION: a title prefix), CODESAGA_OUT
-- (JSON result file), CODESAGA_TIMEOUT_MS. The result holds what each step saw; `err` is nil
-- when every step ran. The screen scenarios attach nvim_screen.lua's UI (cterm colours, as
-- in a terminal with 'termguicolors' off) and record what it shows.
local api = vim.api
local env = vim.env
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local screen = dofile(here .. '/nvim_screen.lua')
local out = { steps = {} }
local co ---@type thread

local function finish(err)
  if out.done then
    return
  end
  out.done = true
  out.err = err or vim.NIL
  local f = assert(io.open(env.CODESAGA_OUT, 'w'))
  f:write(vim.json.encode(out))
  f:close()
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop(true)
  end
  vim.cmd('qa!')
end

local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    finish(debug.traceback(co, tostring(err)))
  elseif coroutine.status(co) == 'dead' then
    finish(nil)
  end
end

local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

local function wait_for(pred, timeout_ms)
  local deadline = vim.uv.now() + timeout_ms
  while not pred() do
    if vim.uv.now() > deadline then
      return false
    end
    sleep(20)
  end
  return true
end

--- Type keys as the user would (mappings apply), then let Neovim process them.
local function type_keys(keys)
  api.nvim_feedkeys(vim.keycode(keys), 'mt', false)
  sleep(40)
end

local function buffer_text(bufnr)
  return table.concat(api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

local function marks(bufnr)
  local ns = require('codesaga').namespace
  local result = {}
  for _, m in ipairs(api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
    local d = m[4]
    local virt_lines = {}
    for _, chunks in ipairs(d.virt_lines or {}) do
      table.insert(virt_lines, chunks[1] and chunks[1][1] or '')
    end
    table.insert(result, {
      row = m[2],
      col = m[3],
      virt_text = d.virt_text and d.virt_text[1] and d.virt_text[1][1] or vim.NIL,
      hl = d.virt_text and d.virt_text[1] and d.virt_text[1][2] or vim.NIL,
      virt_lines = virt_lines,
    })
  end
  return result
end

local function cursor()
  local c = api.nvim_win_get_cursor(0)
  return { c[1] - 1, c[2] }
end

--- Enter insert mode with the cursor at (row, col), col in bytes, possibly at the line's end.
local function insert_at(row, col)
  if api.nvim_get_mode().mode ~= 'n' then
    type_keys('<Esc>')
  end
  local line = api.nvim_buf_get_lines(0, row, row + 1, false)[1]
  if col > 0 and col >= #line then
    api.nvim_win_set_cursor(0, { row + 1, #line - 1 })
    type_keys('a')
  else
    api.nvim_win_set_cursor(0, { row + 1, col })
    type_keys('i')
  end
  assert(api.nvim_get_mode().mode == 'i', 'not in insert mode')
  local c = cursor()
  assert(c[1] == row and c[2] == col, ('cursor at %d:%d, wanted %d:%d'):format(c[1], c[2], row, col))
end

local function step(name, data)
  data.name = name
  table.insert(out.steps, data)
  return data
end

local function snapshot(bufnr)
  local codesaga = require('codesaga')
  return {
    current = codesaga.current() or vim.NIL,
    marks = marks(bufnr),
    cursor = cursor(),
    mode = api.nvim_get_mode().mode,
  }
end

local function start()
  dofile(env.CODESAGA_INIT)
  vim.cmd.edit(vim.fn.fnameescape(env.CODESAGA_FILE))
  local bufnr = api.nvim_get_current_buf()
  local ok = wait_for(function()
    local c = vim.lsp.get_clients({ bufnr = bufnr, name = 'codesaga' })[1]
    return c ~= nil and c.initialized
  end, 60000)
  assert(ok, 'codesaga did not attach and initialize')
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'codesaga' })[1]
  out.encoding = client.offset_encoding
  out.filetype = vim.bo[bufnr].filetype
  out.capabilities = client.server_capabilities
  local row, col = env.CODESAGA_CURSOR:match('(%d+):(%d+)')
  return bufnr, client, tonumber(row), tonumber(col)
end

-- Record the module's state the moment an edit lands: our autocmd is created after the
-- module's, so it runs after the module has reacted to the same TextChangedI.
local function watch_edits(bufnr)
  out.on_edit = {}
  api.nvim_create_autocmd('TextChangedI', {
    buffer = bufnr,
    callback = function()
      table.insert(out.on_edit, {
        current = require('codesaga').current() ~= nil,
        marks = #marks(bufnr),
      })
    end,
  })
end

local scenarios = {}

-- The real server and model: ghost text appears after the debounce, typing clears it,
-- request() brings it back, <Tab> inserts it.
function scenarios.model()
  local bufnr, _, row, col = start()
  local codesaga = require('codesaga')
  watch_edits(bufnr)
  insert_at(row, col)
  local timeout = tonumber(env.CODESAGA_TIMEOUT_MS or '180000')
  step('auto', { shown = wait_for(codesaga.current, timeout) })
  out.steps[#out.steps].state = snapshot(bufnr)

  local before = #out.on_edit
  type_keys('x')
  local typed = step('typed', snapshot(bufnr))
  typed.on_edit = out.on_edit[before + 1] or vim.NIL

  type_keys('<BS>')
  local sent = codesaga.request()
  step('request', { sent = sent, shown = wait_for(codesaga.current, timeout) })
  out.steps[#out.steps].state = snapshot(bufnr)

  local text_before = buffer_text(bufnr)
  type_keys('<Tab>')
  local accepted = step('accept', snapshot(bufnr))
  accepted.before = text_before
  accepted.after = buffer_text(bufnr)
  type_keys('<Esc>')
end

-- The in-process fake server: exact multi-line text, utf-16 positions, the accept command,
-- <Esc> clearing, and <Tab> keeping its own meaning when nothing is shown.
function scenarios.fake()
  local bufnr, _, row, col = start()
  local codesaga = require('codesaga')
  local fake = _G.codesaga_fake
  watch_edits(bufnr)
  fake.reply = env.CODESAGA_REPLY
  insert_at(row, col)
  step('auto', { shown = wait_for(codesaga.current, 5000), state = snapshot(bufnr) })
  out.steps[#out.steps].request = fake.requests[#fake.requests].params

  type_keys('<Esc>')
  step('escape', snapshot(bufnr))

  insert_at(row, col)
  step('again', { shown = wait_for(codesaga.current, 5000), state = snapshot(bufnr) })
  local before = #out.on_edit
  type_keys('z')
  local typed = step('typed', snapshot(bufnr))
  typed.on_edit = out.on_edit[before + 1] or vim.NIL
  type_keys('<BS>')
  step('back', { shown = wait_for(codesaga.current, 5000) })

  -- A slow answer: typing before it arrives cancels the request, and its late answer (for the
  -- old cursor position) is never drawn; the next request's answer is.
  type_keys('<Esc>')
  insert_at(row, col)
  fake.delay_ms = 400
  local shown_at = {}
  api.nvim_create_autocmd('User', {
    pattern = 'CodeSagaSuggestion',
    callback = function()
      table.insert(shown_at, cursor())
    end,
  })
  codesaga.request()
  local first = fake.requests[#fake.requests].id
  type_keys('q')
  local cancel = step('cancel', { first = first, after_typing = snapshot(bufnr) })
  cancel.shown = wait_for(codesaga.current, 5000)
  cancel.cancelled = vim.deepcopy(fake.cancelled)
  cancel.shown_at = vim.deepcopy(shown_at)
  cancel.state = snapshot(bufnr)
  fake.delay_ms = 0
  type_keys('<BS>')
  step('back_again', { shown = wait_for(codesaga.current, 5000) })

  local text_before = buffer_text(bufnr)
  fake.reply = nil -- from now on the server has nothing to suggest
  type_keys('<Tab>')
  local accepted = step('accept', snapshot(bufnr))
  accepted.before = text_before
  accepted.after = buffer_text(bufnr)
  sleep(300) -- let the command reach the server and the next (empty) answer arrive
  accepted.commands = fake.commands

  local plain_before = buffer_text(bufnr)
  local at = cursor()
  type_keys('<Tab>')
  step('plain_tab', {
    before = plain_before,
    after = buffer_text(bufnr),
    at = at,
    current = codesaga.current() or vim.NIL,
  })
  type_keys('<Esc>')
end

-- <Tab> already mapped by another plugin (the init file maps it before the README setup):
-- CodeSaga's <Tab> accepts a shown suggestion and otherwise runs that mapping.
function scenarios.mapped_tab()
  local bufnr, _, row, col = start()
  local codesaga = require('codesaga')
  local fake = _G.codesaga_fake
  fake.reply = env.CODESAGA_REPLY
  insert_at(row, col)
  step('shown', { shown = wait_for(codesaga.current, 5000) })
  local before = buffer_text(bufnr)
  type_keys('<Tab>')
  step('accept', { before = before, after = buffer_text(bufnr), other = vim.g.other_tab or 0 })
  out.steps[#out.steps].hl = api.nvim_get_hl(0, { name = 'CodeSagaGhostText' })
  fake.reply = nil
  sleep(300) -- the next (empty) answer
  local plain = buffer_text(bufnr)
  type_keys('<Tab>')
  step('other', { before = plain, after = buffer_text(bufnr), other = vim.g.other_tab or 0 })
  type_keys('<Esc>')
end

-- What the screen shows around buffer line `row` (0-based) of the current window: that row and
-- the next, where the cursor is drawn (by the UI and by screenrow()/screencol()).
local function view(row)
  screen.settle(sleep)
  local pos = vim.fn.screenpos(0, row + 1, 1)
  local r = pos.row - 1
  return {
    row = r,
    line = screen.row(r),
    below = screen.row(r + 1),
    cursor = screen.cursor(),
    screen_cursor = { vim.fn.screenrow() - 1, vim.fn.screencol() - 1 },
  }
end

--- Scroll the window so that buffer line `row` (0-based) is the third: the virtual lines below
--- it are on screen (at the end of the file Neovim does not scroll to show them).
local function near_top(row)
  vim.fn.winrestview({ topline = math.max(1, row - 1) })
end

--- The colour Neovim's syntax highlighting gives each byte of buffer line `row` (0-based):
--- cterm foreground numbers, -1 for the terminal's default.
local function syntax_fg(row)
  local line = api.nvim_buf_get_lines(0, row, row + 1, false)[1]
  local result = {}
  for c = 1, #line do
    local fg = vim.fn.synIDattr(vim.fn.synIDtrans(vim.fn.synID(row + 1, c, 1)), 'fg', 'cterm')
    table.insert(result, tonumber(fg) or -1)
  end
  return result
end

local function attach_screen()
  vim.o.termguicolors = false
  screen.attach(80, 24)
end

-- Ghost text as a terminal without true colour draws it: its colour against typed text, the
-- cursor's place, the same line after <Tab>, and again after :colorscheme.
function scenarios.screen()
  attach_screen()
  local bufnr, _, row, col = start()
  local codesaga = require('codesaga')
  local fake = _G.codesaga_fake
  fake.reply = env.CODESAGA_REPLY
  insert_at(row, col)
  near_top(row)
  step('shown', {
    shown = wait_for(codesaga.current, 5000),
    view = view(row),
    hl = api.nvim_get_hl(0, { name = 'CodeSagaGhostText' }),
  })
  fake.reply = nil
  type_keys('<Tab>')
  step('accepted', {
    view = view(row),
    line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1],
    syntax_fg = syntax_fg(row),
  })

  type_keys('<Esc>')
  vim.cmd.colorscheme('default') -- clears every highlight group
  fake.reply = env.CODESAGA_REPLY
  insert_at(row, col)
  near_top(row)
  step('colorscheme', { shown = wait_for(codesaga.current, 5000), view = view(row) })
  type_keys('<Esc>')
end

--- The suggestion events the fake server heard since the last call (see suggestion_events.py):
--- { method, length (acceptedLength or nil), id (the item's request id) } each.
local function events()
  local fake = _G.codesaga_fake
  local heard = {}
  for _, n in ipairs(fake.notifications) do
    if n.method:find('Completion$') then
      local item = n.params.item or {}
      local args = (item.command or {}).arguments or {}
      table.insert(heard, { method = n.method, length = n.params.acceptedLength, id = args[4] })
    end
  end
  fake.notifications = {}
  return heard
end

-- Accepting a word, then a line, at a time with the default keys: the buffer, the rest still
-- shown (no new request), the screen, and the events the server hears (shown, each partial
-- accept with the length taken so far, no dismissal when the suggestion goes); then a word
-- followed by <Tab>; then a suggestion left with <Esc> (dismissed).
function scenarios.partial()
  attach_screen()
  local bufnr, _, row, col = start()
  local codesaga = require('codesaga')
  local fake = _G.codesaga_fake
  local original = api.nvim_buf_get_lines(bufnr, 0, -1, false)
  fake.reply = env.CODESAGA_REPLY
  insert_at(row, col)
  near_top(row)
  step('shown', { shown = wait_for(codesaga.current, 5000) })
  sleep(100)
  out.steps[#out.steps].events = events()
  local requests = #fake.requests
  local function after(name, keys)
    type_keys(keys)
    sleep(400) -- longer than the debounce: a new request would have been sent by now
    local c = cursor()
    step(name, {
      text = buffer_text(bufnr),
      current = codesaga.current() or vim.NIL,
      cursor = c,
      view = view(c[1]),
      requests = #fake.requests - requests,
      commands = #fake.commands,
      events = events(),
    })
  end
  --- The original text again, and a new suggestion shown at (row, col); the server then has
  --- nothing more to suggest.
  local function afresh()
    api.nvim_buf_set_lines(bufnr, 0, -1, false, original)
    fake.commands = {}
    fake.reply = env.CODESAGA_REPLY
    insert_at(row, col)
    wait_for(codesaga.current, 5000)
    fake.reply = nil
  end
  after('word', '<M-Right>')
  after('word2', '<M-Right>')
  after('line', '<M-C-Right>')
  after('line2', '<M-C-Right>')
  fake.reply = nil
  type_keys('<Esc>')
  sleep(300)
  step('dismissed', {
    text = buffer_text(bufnr),
    current = codesaga.current() or vim.NIL,
    commands = vim.deepcopy(fake.commands),
    events = events(),
  })

  afresh()
  type_keys('<M-Right>')
  type_keys('<Tab>')
  sleep(300)
  step('word_then_tab', {
    before = table.concat(original, '\n'),
    text = buffer_text(bufnr),
    cursor = cursor(),
    commands = vim.deepcopy(fake.commands),
    events = events(),
  })
  type_keys('<Esc>')

  afresh()
  type_keys('<Esc>')
  sleep(300)
  step('escaped', { commands = vim.deepcopy(fake.commands), events = events() })
end

local function chat_text()
  local chat = require('codesaga.chat').state()
  return chat.bufnr and buffer_text(chat.bufnr) or vim.NIL
end

-- :CodeSagaChat against the fake server: the split, the reply streamed into it, the window the
-- user was in kept, a question about a selection, one asked from the chat buffer, and the
-- server's window/showDocument for a Markdown file.
function scenarios.chat()
  attach_screen()
  local bufnr, _, row, col = start()
  local chat = require('codesaga.chat')
  local fake = _G.codesaga_fake
  fake.chat_delay_ms = 300
  api.nvim_win_set_cursor(0, { row + 1, col })
  local code_win = api.nvim_get_current_win()
  local function where()
    local win = api.nvim_get_current_win()
    local state = chat.state()
    return {
      in_code = win == code_win and api.nvim_win_get_buf(win) == bufnr,
      in_chat = win == state.win,
      windows = #api.nvim_tabpage_list_wins(0),
      split_buffer = state.win and api.nvim_buf_get_name(api.nvim_win_get_buf(state.win))
        or vim.NIL,
      filetype = state.win and vim.bo[api.nvim_win_get_buf(state.win)].filetype or vim.NIL,
    }
  end

  vim.cmd('CodeSagaChat What does this line do?')
  assert(wait_for(function()
    return #fake.chat_sent >= 1
  end, 5000), 'no delta was sent')
  screen.settle(sleep, 30)
  step('streaming', {
    where = where(),
    pending = chat.state().pending,
    sent = vim.deepcopy(fake.chat_sent),
    text = chat_text(),
    screen = screen.lines(),
  })
  local answered = wait_for(function()
    return not chat.state().pending
  end, 5000)
  step('answered', {
    answered = answered,
    where = where(),
    text = chat_text(),
    screen = (function()
      screen.settle(sleep)
      return screen.lines()
    end)(),
    request = fake.chats[1],
    session = chat.state().session_id or vim.NIL,
  })

  vim.cmd(('%d,%dCodeSagaChat Explain these lines'):format(row, row + 1))
  wait_for(function()
    return not chat.state().pending
  end, 5000)
  step('selection', { where = where(), request = fake.chats[2], text = chat_text() })

  api.nvim_set_current_win(chat.state().win)
  local ok, err = pcall(vim.cmd, 'CodeSagaChat And then?')
  wait_for(function()
    return not chat.state().pending
  end, 5000)
  step('from_chat', {
    ok = ok,
    err = err or vim.NIL,
    where = where(),
    request = fake.chats[3] or vim.NIL,
    text = chat_text(),
  })

  api.nvim_set_current_win(code_win)
  local md = vim.fn.tempname() .. '.md'
  vim.fn.writefile({ '# Explanation', '', 'It builds a label.' }, md)
  local result = fake.show_document(vim.uri_from_fname(md))
  screen.settle(sleep)
  step('show_document', {
    result = result or vim.NIL,
    path = md,
    where = where(),
    screen = screen.lines(),
  })
end

-- :CodeSagaChat against the real server: streamed deltas, the reply in the split, a second
-- question from the chat buffer in the same session, and the codesaga.chat command (which
-- makes the server send window/showDocument with takeFocus) leaving the user's window alone.
function scenarios.chat_model()
  local bufnr, client, row, col = start()
  local chat = require('codesaga.chat')
  local timeout = tonumber(env.CODESAGA_TIMEOUT_MS or '180000')
  local deltas = {}
  api.nvim_create_autocmd('LspProgress', {
    callback = function(args)
      local value = args.data.params.value
      if type(value) == 'table' and value.delta then
        table.insert(deltas, value.delta)
      end
    end,
  })
  api.nvim_win_set_cursor(0, { row + 1, col })
  local code_win = api.nvim_get_current_win()
  local function done()
    return wait_for(function()
      return not chat.state().pending
    end, timeout)
  end

  vim.cmd('CodeSagaChat What does this function return?')
  local answered = done()
  step('first', {
    answered = answered,
    deltas = vim.deepcopy(deltas),
    text = chat_text(),
    session = chat.state().session_id or vim.NIL,
    in_code = api.nvim_get_current_win() == code_win and api.nvim_get_current_buf() == bufnr,
    windows = #api.nvim_tabpage_list_wins(0),
  })

  api.nvim_set_current_win(chat.state().win)
  local ok, err = pcall(vim.cmd, 'CodeSagaChat Say it in one word.')
  answered = done()
  step('again', {
    ok = ok,
    err = err or vim.NIL,
    answered = answered,
    text = chat_text(),
    session = chat.state().session_id or vim.NIL,
    windows = #api.nvim_tabpage_list_wins(0),
  })

  api.nvim_set_current_win(code_win)
  local result
  client:exec_cmd({
    title = 'chat',
    command = 'codesaga.chat',
    arguments = {
      { message = 'Is it tested?', textDocument = { uri = vim.uri_from_bufnr(bufnr) } },
    },
  }, { bufnr = bufnr }, function(e, r)
    result = { err = e or vim.NIL, result = r or vim.NIL }
  end)
  wait_for(function()
    return result ~= nil
  end, timeout)
  sleep(200)
  local state = chat.state()
  step('command', {
    result = result or vim.NIL,
    in_code = api.nvim_get_current_win() == code_win and api.nvim_get_current_buf() == bufnr,
    windows = #api.nvim_tabpage_list_wins(0),
    split_buffer = state.win and api.nvim_buf_get_name(api.nvim_win_get_buf(state.win)) or vim.NIL,
  })
end

-- A code action from the real server, run the way a user's mapping does:
-- vim.lsp.buf.code_action({ apply = true, filter = ... }) with the cursor at CODESAGA_CURSOR,
-- choosing the one action whose title starts with CODESAGA_ACTION.
function scenarios.code_action()
  local bufnr, client, row, col = start()
  out.messages = {}
  vim.lsp.handlers['window/showMessage'] = function(_, params)
    table.insert(out.messages, params.message)
  end
  api.nvim_win_set_cursor(0, { row + 1, col })
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = {}, triggerKind = 1 }
  local listed
  client:request('textDocument/codeAction', params, function(err, result)
    listed = { err = err or vim.NIL, titles = {} }
    for _, action in ipairs(result or {}) do
      table.insert(listed.titles, action.title)
    end
  end, bufnr)
  assert(wait_for(function()
    return listed ~= nil
  end, 60000), 'no answer to textDocument/codeAction')
  step('listed', listed)

  local text_before = buffer_text(bufnr)
  local prefix = env.CODESAGA_ACTION
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return vim.startswith(action.title, prefix)
    end,
  })
  local changed = wait_for(function()
    return buffer_text(bufnr) ~= text_before
  end, tonumber(env.CODESAGA_TIMEOUT_MS or '180000'))
  step('applied', { changed = changed, before = text_before, after = buffer_text(bufnr) })
end

local scenario = assert(scenarios[env.CODESAGA_SCENARIO], 'unknown CODESAGA_SCENARIO')
vim.o.showmode = false
vim.o.shortmess = vim.o.shortmess .. 'F'
co = coroutine.create(scenario)
vim.defer_fn(function()
  finish('timed out in the Lua driver')
end, tonumber(env.CODESAGA_TIMEOUT_MS or '180000') * 2 + 60000)
vim.schedule(resume)
