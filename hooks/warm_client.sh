# mem0-hooks' quick client: hands a SessionStart or UserPromptSubmit hook to the warm process without
# starting Python (bash starts in about a tenth of the time), and runs the Python hook when it cannot.
#
#   bash warm_client.sh <hook file> [<python>]      e.g. bash <data>/hooks/warm_client.sh user_prompt_submit.py
#
# Where this file sits decides the rest, as hooks/_bootstrap.py decides it for the Python hooks:
#   installed (<data>/hooks/, no mem0_hooks/ beside it): the data dir is <data>, the interpreter <data>/venv/bin/python;
#   the plugin or a checkout (mem0_hooks/ beside hooks/): the data dir is computed as mem0_hooks.paths.home()
#   computes it, the interpreter is its venv's (hooks/plugin-hook.sh runs this file for the plugin).
# <python> replaces that interpreter (the benchmarks and tests run hooks with theirs).
#
# The warm process (mem0_hooks/warm.py, Warm.handle_quick) listens on 127.0.0.1 and writes its port and two
# tokens, new at each start, to <data>/run/warm.door (0600, in a private folder). This client proves itself with
# the first token, and sends the prompt only once the other side has answered with the second. Anything else (no
# door, nobody on the port, another answer, a fallback) runs the Python hook with the same input, which does the
# work itself and starts a warm process when none runs. Never exits 2, never prints anything of its own.
# The variables sent are those that make the Python hook's fingerprint (mem0_hooks.relay.FINGERPRINT_ENV; a test
# holds the two lists equal).
set +o posix 2>/dev/null # (POSIXLY_CORRECT in the environment: a failed redirection would end the script)
trap '' PIPE                # a peer that went away makes a write fail (then: the Python hook), not end the script
file=$1 given=$2
case $0 in */*) hooks=${0%/*} ;; *) hooks=. ;; esac
case $hooks in /*) ;; *) hooks=$PWD/$hooks ;; esac
root=${hooks%/*}
IFS= read -r -d '' input # the hook's JSON (bash drops NUL bytes, which JSON text never holds)

if [ -d "$root/mem0_hooks" ]; then
  home=${MEM0_HOOKS_HOME:-${XDG_DATA_HOME:-${HOME%/}/.local/share}/mem0-hooks}
  python=${given:-$home/venv/bin/python}
else
  home=$root
  export MEM0_HOOKS_HOME="$root"
  python=${given:-$root/venv/bin/python}
fi

fallback() { # the Python hook, with the same input
  exec 3>&-
  if [ -x "$python" ]; then exec "$python" -S "$hooks/$file" <<<"$input"; fi
  exec python3 "$hooks/$file" <<<"$input" # the plugin before its setup has made the venv
}

case $file in
  session_start.py) event=SessionStart ;;
  user_prompt_submit.py) event=UserPromptSubmit ;;
  *) fallback ;;
esac
case $home in /*) ;; *) fallback ;; esac
[ -x "$python" ] || fallback
door=$home/run/warm.door
[ -O "$home/run" ] && [ -O "$door" ] || fallback # a folder or file of somebody else's is never trusted
read -r port client server _ <"$door" 2>/dev/null || fallback
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || fallback
builtin cd -P . 2>/dev/null # the physical path, as the Python hook's getcwd() gives it
fields=("mem0-hooks-quick/1 $client" "$event" "$PWD" "${CLAUDE_PROJECT_DIR-}" "$python" "$hooks")
for name in ${!MEM0_@} HOME XDG_DATA_HOME TZ HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY http_proxy https_proxy \
  all_proxy no_proxy SSL_CERT_FILE SSL_CERT_DIR; do
  [ -n "${!name+set}" ] && fields+=("$name=${!name}")
done
printf '%s\0' "${fields[@]}" '' >&3 2>/dev/null || fallback
read -r -t 3 answer verdict <&3 || fallback
[ -n "$server" ] && [ "$answer" = "$server" ] && [ "$verdict" = go ] || fallback # else the prompt is not sent
printf '%s\0' "$input" >&3 2>/dev/null || fallback
read -r -t 8 status <&3
case $? in
  0) ;;
  1) fallback ;; # it went away before answering: the Python hook does the work (a capture has a stable id)
  *) exit 0 ;;   # it took the request and is still at it: it still captures; nothing to inject
esac
[ "$status" = ok ] || fallback
exec cat <&3
