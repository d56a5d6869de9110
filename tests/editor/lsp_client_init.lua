-- Headless Neovim as a real LSP client of `tether serve`: start the server, run a
-- workflow through workspace/executeCommand, record every $/progress and
-- tether/runStatus notification, stop the client, write the record, quit.
local out = assert(vim.env.TETHER_TEST_OUT, "TETHER_TEST_OUT is not set")
local workspace = assert(vim.env.TETHER_TEST_WORKSPACE, "TETHER_TEST_WORKSPACE is not set")
local python = assert(vim.env.TETHER_TEST_PYTHON, "TETHER_TEST_PYTHON is not set")
local record = { progress = {}, statuses = {}, errors = {} }

local function finish()
  vim.fn.writefile({ vim.json.encode(record) }, out)
  vim.cmd("qa!")
end

local function fail(message)
  table.insert(record.errors, message)
  finish()
end

local progress_handler = vim.lsp.handlers["$/progress"]
local client_id = vim.lsp.start({
  name = "tether",
  cmd = { python, "-m", "tether", "serve" },
  cmd_cwd = workspace,
  root_dir = workspace,
  init_options = { prewarm = { onStart = false } },
  handlers = {
    ["$/progress"] = function(err, result, ctx, config)
      table.insert(record.progress, result)
      return progress_handler(err, result, ctx, config)
    end,
    ["tether/runStatus"] = function(_, result)
      table.insert(record.statuses, result)
    end,
  },
}, { attach = false }) -- no buffer to attach: commands need none
if not client_id then
  return fail("vim.lsp.start returned nil")
end

local client
if not vim.wait(20000, function()
  client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized
end, 20) then
  return fail("the server did not initialize")
end

local done = false
client:request("workspace/executeCommand", {
  command = "tether.run",
  arguments = { { workflow = "multi" } },
}, function(err, result)
  record.error = err and err.message or nil
  record.result = result
  done = true
end)
if not vim.wait(30000, function()
  return done
end, 20) then
  return fail("no answer to tether.run")
end
-- The last notifications may still be in flight behind the answer.
vim.wait(2000, function()
  local last = record.statuses[#record.statuses]
  return last ~= nil and last.status ~= "running"
end, 20)

client:stop()
if not vim.wait(10000, function()
  return client:is_stopped()
end, 20) then
  table.insert(record.errors, "the client did not stop")
end
finish()
