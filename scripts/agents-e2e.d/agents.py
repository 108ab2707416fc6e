"""The six agent CLIs as scripts/agents-e2e drives them: the npm package and pinned version, how
each is pointed at the fake model (the user's own model settings, written before
`observatory setup` so that setup has to merge into them), what setup leaves to do by hand, and
the command lines of a headless run and a headless resume.

Nothing here configures the observatory: that is `observatory setup <agent>` alone (the runner
runs it), plus what its "Next:" lines tell a person to do by hand, done here as they say:
source Copilot's and OpenCode's observatory.env (`by_hand_env`), and trust Codex's hooks for a
run with `--dangerously-bypass-hook-trust`.
"""
import json
import os
import re

KEY = "dummy-not-a-real-key"


class Agent:
    name = ""            # our name: the cache dir, --agent
    setup_name = ""      # `observatory setup <setup_name>`
    api_name = ""        # the observatory's agent id
    package = ""
    pinned = ""
    latest = False       # also run at the newest npm version with --latest
    binary = ""          # in node_modules/.bin
    api = ""             # the fake model API it speaks
    shell_tool = ""      # the name the model's shell tool has (what the fake model calls)
    exits_zero_after_giving_up = False  # its headless run exits 0 when the model keeps failing
    exits_zero_on_sigterm = False       # it exits 0 after a SIGTERM

    def env(self, ctx):
        """Variables beyond the common ones (PATH, HOME, USER, LANG, TERM, XDG_*)."""
        return {}

    def prepare(self, ctx):
        """The user's own settings (model, onboarding), before `observatory setup` runs."""

    def by_hand_env(self, ctx):
        """What setup tells a person to source from the shell profile, as variables."""
        return {}

    def first(self, ctx, prompt):
        """argv of a headless run of one prompt."""
        raise NotImplementedError

    def resume(self, ctx, native_id, prompt):
        """argv of a headless run of one more prompt in session native_id."""
        raise NotImplementedError

    def bin(self, ctx):
        return os.path.join(ctx.cli_dir, "node_modules", ".bin", self.binary)

    def sigterm_target(self, pid):
        """The process a person stopping this agent sends SIGTERM to: the one we started."""
        return pid

    # The interactive TUI under tmux (tui: driven by this suite).
    tui = False

    def interactive(self, ctx, ask=False):
        """argv of the TUI; with ask, in a mode where a shell command that writes asks first."""
        return None

    def tui_ready(self, screen):
        """The TUI waits for a prompt."""
        return False

    def permission_dialog(self, screen):
        return False

    allow_keys = ["Enter"]          # tmux keys that allow the dialog's tool once
    exit_text = "/exit"             # typed, then Enter, to leave the TUI
    startup = []                    # (text on screen, tmux keys): start-up dialogs and answers


def descendants(pid):
    """pid's descendant processes, parents before children (from /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in sorted(children.get(todo.pop(0), [])):
            out.append(c)
            todo.append(c)
    return out


def agent_process(pid, word):
    """The deepest process below pid that is the agent: node or the agent's native binary, with
    `word` in its command line (not its hooks, nor the shells and tools it runs), else pid."""
    inner = [c for c in descendants(pid)
             if os.path.basename(exe(c)) in ("node", word) and word in cmdline(c)]
    return inner[-1] if inner else pid


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def exports(path):
    """The `export K=V` lines of an env file setup wrote (what sourcing it would set)."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2).strip().strip("'\"")
    return out


class ClaudeCode(Agent):
    name, setup_name, api_name = "claude-code", "claude-code", "claude_code"
    package, pinned, latest, binary = "@anthropic-ai/claude-code", "2.1.328", True, "claude"
    api, shell_tool = "anthropic", "Bash"

    def env(self, ctx):
        return {"ANTHROPIC_BASE_URL": ctx.fake_url, "ANTHROPIC_API_KEY": "sk-ant-" + KEY,
                "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "3"}

    def prepare(self, ctx):
        # Onboarding done, this API key approved, the project trusted: no first-run dialogs.
        key = ("sk-ant-" + KEY)[-20:]
        write(os.path.join(ctx.home, ".claude.json"), json.dumps({
            "hasCompletedOnboarding": True, "theme": "dark", "numStartups": 3,
            "customApiKeyResponses": {"approved": [key], "rejected": []},
            "projects": {ctx.proj: {"hasTrustDialogAccepted": True, "allowedTools": []}}}))

    def first(self, ctx, prompt):
        return [self.bin(ctx), "-p", prompt, "--output-format", "stream-json", "--verbose",
                "--allowedTools", "Bash"]

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "-p", "--resume", native_id, prompt, "--output-format",
                "stream-json", "--verbose", "--allowedTools", "Bash"]

    tui = True

    def interactive(self, ctx, ask=False):
        # 2.1.328 defaults to auto mode, which runs `echo hi > file` without asking.
        return [self.bin(ctx)] + (["--permission-mode", "manual"] if ask else [])

    def tui_ready(self, screen):
        # Its input line's `❯` and the hint line below it (as scripts/control-e2e waits).
        return any(line.startswith("❯") for line in screen.splitlines()) and (
            "for shortcuts" in screen or "to cycle" in screen)

    def permission_dialog(self, screen):
        return "Do you want to proceed?" in screen


class Codex(Agent):
    name, setup_name, api_name = "codex", "codex", "codex"
    package, pinned, latest, binary = "@openai/codex", "0.169.0", True, "codex"
    api, shell_tool = "responses", "exec_command"

    def env(self, ctx):
        return {"CODEX_HOME": os.path.join(ctx.home, ".codex"), "FAKE_OPENAI_API_KEY": KEY}

    def prepare(self, ctx):
        write(os.path.join(ctx.home, ".codex", "config.toml"), f"""model = "gpt-5.5"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.fake]
name = "fake"
base_url = "{ctx.fake_url}/v1"
wire_api = "responses"
env_key = "FAKE_OPENAI_API_KEY"
request_max_retries = 3
stream_max_retries = 3

[projects."{ctx.proj}"]
trust_level = "trusted"
""")

    def first(self, ctx, prompt):
        return [self.bin(ctx), "exec", "--json", "--dangerously-bypass-hook-trust", prompt]

    tui = True
    exit_text = "/quit"
    # Setup's by-hand step in the TUI: trust the new hooks ("2. Trust all and continue"); and
    # keep the configured model when 0.169.0 offers a new one ("2. Use existing model").
    startup = [("Hooks need review", ["2", "Enter"]), ("Use existing model", ["2", "Enter"])]

    def interactive(self, ctx, ask=False):
        return [self.bin(ctx)]

    def tui_ready(self, screen):
        return "? for shortcuts" in screen and "enter confirm" not in screen and any(
            line.startswith("›") for line in screen.splitlines())

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "exec", "--json", "--dangerously-bypass-hook-trust", "resume",
                native_id, prompt]


class GeminiCli(Agent):
    name, setup_name, api_name = "gemini", "gemini-cli", "gemini_cli"
    package, pinned, binary = "@google/gemini-cli", "0.61.0", "gemini"
    api, shell_tool = "gemini", "run_shell_command"

    def env(self, ctx):
        return {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": ctx.fake_url,
                "GEMINI_CLI_TRUST_WORKSPACE": "true"}

    def prepare(self, ctx):
        write(os.path.join(ctx.home, ".gemini", "settings.json"), json.dumps({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"maxAttempts": 3}}, indent=2))

    def first(self, ctx, prompt):
        return [self.bin(ctx), "--output-format", "stream-json", "--yolo", "-p", prompt]

    exits_zero_on_sigterm = True  # fixtures/gemini-cli-0.61.0/README.md, and seen here
    tui = True
    exit_text = "/quit"

    def interactive(self, ctx, ask=False):
        return [self.bin(ctx)]

    def tui_ready(self, screen):
        return "Type your message" in screen and "? for shortcuts" in screen

    def sigterm_target(self, pid):
        # gemini re-launches itself as a child node process and the outer one ignores
        # INT/TERM/HUP (fixtures/gemini-cli-0.61.0/README.md): the child does the work.
        return agent_process(pid, "gemini")

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "--output-format", "stream-json", "--yolo", "--resume", native_id,
                "-p", prompt]


class CopilotCli(Agent):
    name, setup_name, api_name = "copilot", "copilot-cli", "copilot_cli"
    package, pinned, binary = "@github/copilot", "1.0.102", "copilot"
    api, shell_tool = "anthropic", "bash"
    exits_zero_on_sigterm = True  # 1.0.102: "Operation aborted (cancelled)", then exit 0

    def env(self, ctx):
        # Offline, bring-your-own-key against an Anthropic-compatible endpoint. The loader
        # unpacks its native payload under XDG_CACHE_HOME: kept in the CLI cache, not per run.
        return {"COPILOT_OFFLINE": "true", "COPILOT_PROVIDER_TYPE": "anthropic",
                "COPILOT_PROVIDER_BASE_URL": ctx.fake_url, "COPILOT_PROVIDER_API_KEY": KEY,
                "COPILOT_MODEL": "claude-sonnet-4.5", "NO_PROXY": "127.0.0.1,localhost",
                "XDG_CACHE_HOME": os.path.join(ctx.cli_dir, "xdg-cache")}

    def by_hand_env(self, ctx):
        return exports(os.path.join(ctx.home, ".copilot", "observatory.env"))

    def sigterm_target(self, pid):
        # Its node loader runs the native binary and forwards no signal (agents.rs): a SIGTERM
        # to the loader leaves the agent running. The native binary is the agent.
        return agent_process(pid, "copilot")

    def first(self, ctx, prompt):
        return [self.bin(ctx), "-p", prompt, "--allow-all-tools"]

    tui = True
    startup = [("Do you trust the files in this folder?", ["Enter"])]  # "1. Yes"

    def interactive(self, ctx, ask=False):
        return [self.bin(ctx)]

    def tui_ready(self, screen):
        lines = [line.rstrip() for line in screen.splitlines()]
        return "? help" in screen and "❯" in lines and "Do you trust" not in screen

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "-p", prompt, "--allow-all-tools", f"--resume={native_id}"]


class OpenCode(Agent):
    name, setup_name, api_name = "opencode", "opencode", "opencode"
    package, pinned, binary = "opencode-ai", "1.18.33", "opencode"
    api, shell_tool = "anthropic", "bash"

    def env(self, ctx):
        return {"OPENCODE_DISABLE_MODELS_FETCH": "true", "OPENCODE_DISABLE_AUTOUPDATE": "true"}

    def prepare(self, ctx):
        write(os.path.join(ctx.home, ".config", "opencode", "opencode.json"), json.dumps({
            "$schema": "https://opencode.ai/config.json", "model": "anthropic/claude-sonnet-4-5",
            "provider": {"anthropic": {"options": {"baseURL": ctx.fake_url + "/v1", "apiKey": KEY}}},
            "permission": {"bash": "allow", "edit": "allow"},
            "autoupdate": False, "share": "disabled"}, indent=2))

    def by_hand_env(self, ctx):
        return exports(os.path.join(ctx.home, ".config", "opencode", "observatory.env"))

    def first(self, ctx, prompt):
        return [self.bin(ctx), "run", "--format", "json", prompt]

    tui = True

    def interactive(self, ctx, ask=False):
        return [self.bin(ctx)]

    def tui_ready(self, screen):
        return "ctrl+p commands" in screen and "esc interrupt" not in screen

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "run", "--format", "json", "-s", native_id, prompt]


class Pi(Agent):
    name, setup_name, api_name = "pi", "pi", "pi"
    package, pinned, binary = "@mariozechner/pi-coding-agent", "0.73.1", "pi"
    api, shell_tool = "chat", "bash"
    exits_zero_after_giving_up = True  # seen with 0.73.1: -p exits 0 after 4 failed attempts

    def env(self, ctx):
        return {"PI_OFFLINE": "1"}

    def prepare(self, ctx):
        write(os.path.join(ctx.home, ".pi", "agent", "models.json"), json.dumps({
            "providers": {"fake": {"baseUrl": ctx.fake_url + "/v1", "api": "openai-completions",
                                   "apiKey": KEY, "models": [{"id": "gpt-5.5"}]}}}, indent=2))

    def first(self, ctx, prompt):
        return [self.bin(ctx), "--provider", "fake", "--model", "gpt-5.5", "--mode", "json", "-p",
                prompt]

    tui = True
    exit_text = "/quit"

    def interactive(self, ctx, ask=False):
        return [self.bin(ctx), "--provider", "fake", "--model", "gpt-5.5"]

    def tui_ready(self, screen):
        return "/ commands" in screen and "gpt-5.5" in screen and "Working" not in screen

    def resume(self, ctx, native_id, prompt):
        return [self.bin(ctx), "--provider", "fake", "--model", "gpt-5.5", "--mode", "json", "-p",
                "--session", native_id, prompt]


AGENTS = {a.name: a for a in (ClaudeCode(), Codex(), GeminiCli(), CopilotCli(), OpenCode(), Pi())}
