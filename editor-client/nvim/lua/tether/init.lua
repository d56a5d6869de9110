-- tether for Neovim: starts `python -m tether serve` for the workspace and offers
-- :TetherRun, :TetherResume, :TetherCancel, :TetherRuns and :TetherDocs. Progress arrives
-- through vim.notify and require("tether").statusline().
local compat = require("tether.compat")
local status = require("tether.status")

local M = {}

local defaults = {
  -- Interpreter that has tether installed; the server runs as `{python} -m tether serve`.
  python = "python3",
  -- Full server command instead (a list), e.g. { "/path/.venv/bin/tether", "serve" }.
  cmd = nil,
  -- Files or folders that mark the workspace root; the current directory when none is found.
  root_markers = { ".git", ".tether" },
  -- tether settings (camelCase, as in .tether/config.toml), sent as initializationOptions
  -- and answered to workspace/configuration, e.g. { docs = { offline = true } }.
  settings = {},
  -- Announce progress with vim.notify (the statusline shows it either way).
  notify_progress = true,
  -- Start the server at setup; otherwise on the first :Tether command.
  autostart = true,
}

local config = vim.deepcopy(defaults)
local client_id = nil

local function workspace_root()
  local cwd = vim.fn.getcwd()
  local found = vim.fs.find(config.root_markers, { upward = true, path = cwd, limit = 1 })[1]
  if found then
    return vim.fs.dirname(found)
  end
  return cwd
end

local function server_command()
  if config.cmd then
    return config.cmd
  end
  return { config.python, "-m", "tether", "serve" }
end

local function client()
  if client_id then
    local current = vim.lsp.get_client_by_id(client_id)
    if current and not compat.is_stopped(current) then
      return current
    end
  end
  return nil
end

--- Start the server for the workspace (once); returns the client id or nil.
function M.start()
  if client() then
    return client_id
  end
  local root = workspace_root()
  local settings = vim.empty_dict()
  if next(config.settings) then
    settings = config.settings
  end
  client_id = compat.start_client({
    name = "tether",
    cmd = server_command(),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fs.basename(root) } },
    init_options = settings,
    settings = { tether = settings },
    handlers = {
      ["tether/runStatus"] = function(_, params)
        status.on_run_status(params)
      end,
      -- The server offers a waiting run's instruction with window/showMessageRequest;
      -- Neovim's default handler is a blocking prompt (it hangs a headless editor). The
      -- runStatus notice says the same with :TetherInstruction and :TetherResume, so the
      -- request is answered at once, with no action chosen.
      ["window/showMessageRequest"] = function()
        return vim.NIL
      end,
    },
    on_exit = function(code, signal)
      if code ~= 0 and signal == 0 then
        vim.schedule(function()
          status.say("server exited with code " .. code .. " (see :LspLog)", vim.log.levels.WARN)
        end)
      end
    end,
  })
  if not client_id then
    status.say("could not start " .. table.concat(server_command(), " "), vim.log.levels.ERROR)
  end
  return client_id
end

--- Stop the server (runs in flight pause, resumable).
function M.stop()
  local current = client()
  if current then
    compat.stop(current)
  end
  client_id = nil
end

local function with_client(callback)
  if not M.start() then
    return
  end
  local current = client()
  if current and current.initialized then
    return callback(current)
  end
  -- Not initialized yet: try again shortly (vim.wait would block the UI).
  local attempts = 0
  local timer = vim.uv.new_timer()
  timer:start(50, 50, vim.schedule_wrap(function()
    attempts = attempts + 1
    local ready = client()
    if ready and ready.initialized then
      timer:stop()
      timer:close()
      callback(ready)
    elseif attempts > 200 or not ready then
      timer:stop()
      timer:close()
      status.say("the language server did not start (see :LspLog)", vim.log.levels.ERROR)
    end
  end))
end

--- workspace/executeCommand with one object argument; `on_result(result)` on success.
function M.execute(command, argument, on_result)
  with_client(function(current)
    local params = { command = command, arguments = { argument or vim.empty_dict() } }
    compat.request(current, "workspace/executeCommand", params, function(err, result)
      if err then
        local message = err.message or vim.inspect(err)
        if not vim.startswith(message, command .. ":") then
          message = command .. ": " .. message
        end
        status.say(message, vim.log.levels.ERROR)
        return
      end
      if on_result then
        on_result(result)
      end
    end)
  end)
end

local function parse_params(words)
  local params = {}
  for _, word in ipairs(words) do
    local key, value = word:match("^([^=]+)=(.*)$")
    if not key then
      return nil, "expected KEY=VALUE, got " .. word
    end
    params[key] = value
  end
  return params
end

--- Start WORKFLOW (params as a table); progress follows through $/progress.
function M.run(workflow, params)
  local argument = { workflow = workflow }
  if params and next(params) then
    argument.params = params
  end
  M.execute("tether.start", argument, function(result)
    status.started(result.run_id, workflow)
  end)
end

local function outcome(result)
  if type(result) ~= "table" then
    return
  end
  local level = vim.log.levels.INFO
  if result.status ~= "succeeded" then
    level = vim.log.levels.WARN
  end
  local text = string.format("run %s (%s): %s", result.run_id, result.workflow or "?", result.status)
  if result.resume_command and result.resume_command ~= vim.NIL then
    text = text .. " · resume: " .. result.resume_command
  end
  status.say(text, level)
end

--- Continue RUN_ID; `result_file` hands a waiting agent step its result.
function M.resume(run_id, result_file)
  local argument = { run_id = run_id }
  if result_file then
    argument.result_file = result_file
  end
  M.execute("tether.resume", argument, outcome)
end

--- Cancel RUN_ID, or the active run.
function M.cancel(run_id)
  run_id = run_id or status.active_run()
  if not run_id then
    status.say("no active run to cancel", vim.log.levels.WARN)
    return
  end
  M.execute("tether.cancel", { run_id = run_id }, function(result)
    status.set_status(run_id, result.status)
    status.say(string.format("run %s: %s", run_id, result.status or "cancelled"))
  end)
end

--- Open the instruction of a run waiting for an agent's result (RUN_ID or the active run).
function M.instruction(run_id)
  local path = status.instruction(run_id)
  if not path then
    status.say("no waiting run with an instruction" .. (run_id and (" (" .. run_id .. ")") or ""), vim.log.levels.WARN)
    return
  end
  vim.cmd("split " .. vim.fn.fnameescape(path))
end

function M.runs()
  M.execute("tether.runs", nil, function(result)
    local lines = {}
    for _, run in ipairs(result or {}) do
      table.insert(lines, string.format("%-10s %-12s %s", run.status, run.workflow, run.run_id))
    end
    status.say(#lines > 0 and ("runs:\n" .. table.concat(lines, "\n")) or "no runs yet")
  end)
end

--- Open the markdown answer in a scratch buffer (a split).
local function show_markdown(title, markdown)
  local buffer = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buffer, 0, -1, false, vim.split(markdown or "", "\n", { plain = true }))
  vim.bo[buffer].filetype = "markdown"
  vim.bo[buffer].bufhidden = "wipe"
  vim.bo[buffer].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buffer, title)
  vim.cmd("split")
  vim.api.nvim_win_set_buf(0, buffer)
  return buffer
end

function M.docs(library, query)
  M.execute("tether.docs", { library = library, query = query or "" }, function(result)
    local header = result.library or library
    if result.version and result.version ~= vim.NIL then
      header = header .. " " .. result.version
    end
    show_markdown("tether://docs/" .. header:gsub("%s", "-"), result.markdown)
  end)
end

function M.statusline()
  return status.statusline(client() ~= nil)
end

local function workflow_names()
  local current = client()
  if not current then
    return {}
  end
  local params = { command = "tether.workflows", arguments = { vim.empty_dict() } }
  local answer = compat.request_sync(current, "workspace/executeCommand", params, 1000)
  local names = {}
  for _, row in ipairs((answer and answer.result) or {}) do
    table.insert(names, row.name)
  end
  return names
end

local function define_commands()
  local command = vim.api.nvim_create_user_command
  command("TetherRun", function(args)
    local params, problem = parse_params(vim.list_slice(args.fargs, 2))
    if not params then
      status.say(problem, vim.log.levels.ERROR)
      return
    end
    M.run(args.fargs[1], params)
  end, {
    nargs = "+",
    desc = "tether: run a workflow (KEY=VALUE parameters may follow)",
    complete = function(lead, line)
      if #vim.split(line, "%s+", { trimempty = true }) > 2 then
        return {}
      end
      return vim.tbl_filter(function(name)
        return vim.startswith(name, lead)
      end, workflow_names())
    end,
  })
  command("TetherResume", function(args)
    M.resume(args.fargs[1], args.fargs[2])
  end, { nargs = "+", desc = "tether: resume a run [RESULT_FILE]" })
  command("TetherCancel", function(args)
    M.cancel(args.fargs[1])
  end, { nargs = "?", desc = "tether: cancel the active run (or RUN_ID)" })
  command("TetherInstruction", function(args)
    M.instruction(args.fargs[1])
  end, { nargs = "?", desc = "tether: open the instruction of the waiting run (or RUN_ID)" })
  command("TetherRuns", function()
    M.runs()
  end, { nargs = 0, desc = "tether: list runs" })
  command("TetherDocs", function(args)
    M.docs(args.fargs[1], table.concat(vim.list_slice(args.fargs, 2), " "))
  end, { nargs = "+", desc = "tether: documentation for LIBRARY [QUERY]" })
end

local progress_autocmd = nil

function M.setup(opts)
  config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  status.configure(config)
  define_commands()
  if progress_autocmd then
    vim.api.nvim_del_autocmd(progress_autocmd)
  end
  progress_autocmd = vim.api.nvim_create_autocmd("LspProgress", {
    desc = "tether: run progress",
    callback = function(event)
      local data = event.data or {}
      if client_id and data.client_id == client_id and data.params then
        status.on_progress(data.params)
      end
    end,
  })
  if config.autostart then
    M.start()
  end
end

return M
