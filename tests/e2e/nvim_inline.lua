-- Headless Neovim 0.11: start codesaga with vim.lsp.start, request an inline completion at
-- the position given in CODESAGA_POSITION ("line:character", 0-based, in the client's
-- negotiated position encoding), print {encoding, result, err} as JSON on stdout, quit.
local cmd = vim.json.decode(os.getenv("CODESAGA_SERVER_CMD"))
local line, character = os.getenv("CODESAGA_POSITION"):match("(%d+):(%d+)")
vim.cmd.edit(arg[1])
local buf = vim.api.nvim_get_current_buf()

local client_id = vim.lsp.start({
  name = "codesaga",
  cmd = cmd,
  root_dir = vim.fs.dirname(arg[1]),
  init_options = { maxTokens = 24 },
}, { bufnr = buf })

local ok = vim.wait(60000, function()
  local c = vim.lsp.get_client_by_id(client_id)
  return c ~= nil and c.initialized
end, 50)
local client = assert(vim.lsp.get_client_by_id(client_id), "codesaga did not start")
assert(ok, "codesaga did not initialize")

local done, result, err = false, nil, nil
client:request("textDocument/inlineCompletion", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = tonumber(line), character = tonumber(character) },
  context = { triggerKind = 2 },
}, function(e, r)
  done, err, result = true, e, r
end, buf)
vim.wait(180000, function() return done end, 50)

io.stdout:write(vim.json.encode({
  encoding = client.offset_encoding,
  result = result or vim.NIL,
  err = err or vim.NIL,
  line = vim.api.nvim_buf_get_lines(buf, tonumber(line), tonumber(line) + 1, false)[1],
}))
client:stop(true)
vim.cmd("qa!")
