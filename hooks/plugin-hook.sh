# Runs one mem0-hooks hook for the Claude Code plugin: `sh plugin-hook.sh <hook file>` (hooks/hooks.json).
# With the data dir's virtualenv once it exists (one interpreter start, as the install.sh route), else with
# python3: capture needs only the standard library, and the first hook starts the setup of the virtualenv.
# The data dir is the install.sh route's, computed as mem0_hooks.paths.home() computes it.
d="${MEM0_HOOKS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/mem0-hooks}"
# SessionStart and UserPromptSubmit go through the quick client (warm_client.sh) where bash is: it hands them
# to the warm process without starting Python, and runs the Python hook when it cannot.
if [ -x "$d/venv/bin/python" ]; then
  case $1 in
    session_start.py | user_prompt_submit.py) command -v bash >/dev/null 2>&1 && exec bash "${0%/*}/warm_client.sh" "$1" ;;
  esac
  exec "$d/venv/bin/python" -S "${0%/*}/$1"
fi
exec python3 "${0%/*}/$1"
