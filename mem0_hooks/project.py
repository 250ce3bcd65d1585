"""What a project is: a directory on this machine, and the identity its memories are stored under.

``project_of(cwd)`` is THE identity: the value memories are stored under, locally and in Mem0. A
repository is the same project on every machine: its identity is its remote's normalised URL
(``git@github.com:a/b.git``, ``https://user:token@github.com/a/b`` and ``ssh://git@github.com/a/b`` are
all ``github.com/a/b``). Without a remote it is the project's directory, as before (an identity that
starts with ``/`` is a path). ``project_root(cwd)`` is that directory on this machine: the exclusion
globs, the ``.mem0-hooks-ignore`` file and pauses are about it. ``locate(cwd)`` gives both, and how the
identity was found (``Project``). docs/projects.md has the rules; in short:

* root: the nearest directory at or above ``cwd`` holding ``.git`` (a directory, or the file a worktree
  or a submodule has), else ``cwd`` itself.
* identity: ``mem0-hooks.project`` in the repository's git config when set (``git config
  mem0-hooks.project NAME``); else the remote ``origin``; else ``upstream``; else the first of the
  other remotes by name. A remote counts only when its URL names a host (a remote that is a local path
  is not the same path on another machine). Credentials, port, query, ``.git`` and the scheme never
  reach the identity. ``url.<base>.insteadOf`` rules and ``Host`` aliases of ``~/.ssh/config`` (an
  exact alias with a ``HostName``) are applied first, as git and ssh would.
* a directory that no longer exists (an old transcript's ``cwd``): the identity recorded for it, or
  for the nearest recorded directory above it, when a hook ran there (``project_map``); else the project
  of the work tree it was in, unless that is the home directory's (dotfiles); else its path.

The remote is read from the git config files themselves, never by running git: a hook pays for this on
every prompt. A long-lived process (the warm process) keeps what it read and reads again only when one
of the files it read changed (a ``stat`` each).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

IGNORE_FILE = ".mem0-hooks-ignore"
CONFIG_KEY = "mem0-hooks.project"  # git config key that names a project's identity outright
PREFERRED_REMOTES = ("origin", "upstream")
# Hosts whose owner and repository names are case-insensitive: ``github.com/Acme/API`` is ``acme/api``.
CASELESS_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "dev.azure.com"})
HOST_ALIASES = {  # the same service on another port (ssh over 443)
    "ssh.github.com": "github.com",
    "altssh.gitlab.com": "gitlab.com",
    "altssh.bitbucket.org": "bitbucket.org",
}
MAX_DEPTH = 64


class Project:
    """Where a hook runs: ``root`` (the directory here) and ``id`` (what memories are stored under).

    ``how`` says where ``id`` came from: ``"remote"`` (``remote`` names it, ``url`` is its URL without
    credentials), ``"config"`` (``mem0-hooks.project``), ``"path"`` (no usable remote: ``id`` is
    ``root``) or ``"recorded"`` (the directory is gone; the identity a hook recorded for it).
    """

    __slots__ = ("root", "id", "how", "remote", "url")

    def __init__(self, root: str, id: str, how: str = "path", remote: str = "", url: str = "") -> None:
        self.root, self.id, self.how, self.remote, self.url = root, id, how, remote, url

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Project):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Project(root={self.root!r}, id={self.id!r}, how={self.how!r}, remote={self.remote!r})"

    def describe(self) -> str:
        """One line for ``status`` and ``doctor``: what identifies this project, and why."""
        if self.how == "remote":
            return f"{self.id} (git remote {self.remote!r}: {self.url}; directory {self.root})"
        if self.how == "config":
            return f"{self.id} (git config {CONFIG_KEY}; directory {self.root})"
        if self.how == "recorded":
            return f"{self.id} (recorded for {self.root}, which no longer exists)"
        return f"{self.id} (its path: no git remote that names a host)"


def project_of(cwd: str | None) -> str:
    """The identity memories of ``cwd``'s project are stored under (see the module docstring)."""
    return locate(cwd).id


project_id = project_of


def project_root(cwd: str | None) -> str:
    """The project's directory on this machine: the git work tree root above ``cwd``, else ``cwd``."""
    return locate(cwd).root


def is_path_identity(identity: str) -> bool:
    """Whether ``identity`` is a directory (a project without a remote, or stored before remotes counted)."""
    return identity.startswith("/")


# -- finding the root and the identity -------------------------------------------------------------------
# root -> (the files read and their stat signatures, the Project): a long-lived process revalidates
# with one stat per file instead of reading and parsing them again.
_CACHE: dict[str, tuple[tuple[tuple[str, tuple[int, int, int] | None], ...], Project]] = {}
_CACHE_SIZE = 64


def locate(cwd: str | None) -> Project:
    """The project ``cwd`` belongs to (``CLAUDE_PROJECT_DIR``, else the process's cwd, when not given)."""
    if not cwd or not isinstance(cwd, str):
        cwd = os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()
    path = os.path.abspath(cwd)
    if not os.path.isdir(path):
        return _gone(path)
    root, dotgit = _work_tree(path)
    if dotgit is None:
        return Project(root, root)
    kept = _CACHE.get(root)
    if kept is not None and all(_signature(f) == sig for f, sig in kept[0]):
        return kept[1]
    read: list[str] = []
    try:
        project = _identify(root, dotgit, read)
    except (OSError, UnicodeError, ValueError):
        project = Project(root, root)  # an unreadable git dir: the path, as before remotes counted
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[root] = (tuple((f, _signature(f)) for f in dict.fromkeys(read)), project)
    return project


def _work_tree(path: str) -> tuple[str, str | None]:
    """(root, its ``.git`` entry) for the nearest directory at or above ``path`` holding ``.git``; else
    (``path``, None)."""
    probe = path
    for _ in range(MAX_DEPTH):
        dotgit = os.path.join(probe, ".git")
        if os.path.exists(dotgit):
            return probe, dotgit
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return path, None


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _read(path: str, read: list[str]) -> str | None:
    read.append(path)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read(1 << 20)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def git_dir(dotgit: str, read: list[str] | None = None) -> str | None:
    """The git directory a work tree's ``.git`` entry points to: itself, or a worktree's or submodule's
    ``gitdir: <path>`` (relative to the work tree)."""
    if os.path.isdir(dotgit):
        return dotgit
    text = _read(dotgit, read if read is not None else [])
    if not text or not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    return os.path.normpath(os.path.join(os.path.dirname(dotgit), target)) if target else None


def config_path(gitdir: str, read: list[str] | None = None) -> str:
    """The config file of ``gitdir``: the shared one of a linked worktree (``commondir``), else its own."""
    common = _read(os.path.join(gitdir, "commondir"), read if read is not None else [])
    if common and common.strip():
        return os.path.join(os.path.normpath(os.path.join(gitdir, common.strip())), "config")
    return os.path.join(gitdir, "config")


def _identify(root: str, dotgit: str, read: list[str]) -> Project:
    gitdir = git_dir(dotgit, read)
    if gitdir is None:
        return Project(root, root)
    text = _read(config_path(gitdir, read), read)
    if not text:
        return Project(root, root)
    entries = parse_git_config(text)
    for section, _sub, key, value in entries:
        if section == "mem0-hooks" and key == "project" and value.strip():
            return Project(root, named_identity(value), "config")
    remotes: dict[str, str] = {}
    for section, sub, key, value in entries:
        if section == "remote" and key == "url" and sub and sub not in remotes:
            remotes[sub] = value.strip()  # the first url of a remote is the one fetches use
    if not remotes:
        return Project(root, root)
    rewrites = _insteadof(entries)
    order = [n for n in PREFERRED_REMOTES if n in remotes] + sorted(n for n in remotes if n not in PREFERRED_REMOTES)
    for name in order:
        url = _rewrite(remotes[name], rewrites)
        host = _host_of(url)
        if host is not None and "." not in host:
            # A short name: maybe the user's own shorthand (insteadOf in the global git config) or an
            # ssh alias. Only then are the user's files read: most remotes name a full host.
            url = _rewrite(remotes[name], rewrites + _insteadof(_global_git_config(read)))
        url = _ssh_alias(url, read)
        identity = remote_identity(url)
        if identity:
            return Project(root, identity, "remote", name, display_url(url))
    return Project(root, root)


def named_identity(value: str) -> str:
    """The identity ``mem0-hooks.project`` names: a remote URL or ``host/owner/name`` normalised as a
    remote's would be (so the name a remote gives can be written by hand), anything else as written."""
    named = value.strip()
    found = remote_identity(named)
    if found is None and "/" in named and "." in named.partition("/")[0] and not named.startswith("/"):
        found = remote_identity("https://" + named)
    return found or named


def _gone(path: str) -> Project:
    """A directory that does not exist (any more): what a hook recorded for it; else the project of the
    work tree it was in (a subdirectory deleted from under a session), unless that work tree is the home
    directory or above it (a dotfiles repository does not own every deleted checkout in ``~``); else its
    path."""
    from mem0_hooks import project_map

    found = project_map.recorded_for(path)
    if found is not None:
        return Project(found[0], found[1], "recorded")
    probe = os.path.dirname(path)
    for _ in range(MAX_DEPTH):
        if os.path.isdir(probe) or os.path.dirname(probe) == probe:
            break
        probe = os.path.dirname(probe)
    root, dotgit = _work_tree(probe)
    home = os.path.expanduser("~").rstrip("/") or "/"
    if dotgit is not None and home != root and not home.startswith(root.rstrip("/") + "/"):
        return locate(root)
    return Project(path, path)


# -- git config files ---------------------------------------------------------------------------------
def parse_git_config(text: str) -> list[tuple[str, str, str, str]]:
    """``[(section, subsection, key, value)]`` from a git config file, in order.

    Section and key names are lower-cased (git compares them so); a subsection keeps its case. Values
    lose comments and surrounding blanks, keep quoted blanks, and have git's escapes undone; a line
    ending in ``\\`` goes on. ``include`` directives are not followed.
    """
    out: list[tuple[str, str, str, str]] = []
    section = sub = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            end = _header_end(line)
            section, sub = _section_header(line[: end + 1])
            line = line[end + 1 :].strip()  # ``[core] bare = false``: a key may follow on the same line
            if not line or line[0] in "#;":
                continue
        if not section:
            continue
        name, eq, raw = line.partition("=")
        key = name.strip().lower()
        if not key:
            continue
        if not eq:
            out.append((section, sub, key, "true"))  # a bare name is a boolean
            continue
        while raw.endswith("\\") and not raw.endswith("\\\\") and index < len(lines):
            raw = raw[:-1] + lines[index]
            index += 1
        out.append((section, sub, key, _value(raw)))
    return out


def _header_end(line: str) -> int:
    """Index of the ``]`` closing a section header (past a quoted subsection); the end when none."""
    quoted = False
    i = 1
    while i < len(line):
        c = line[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == "]" and not quoted:
            return i
        i += 1
    return len(line) - 1


def _section_header(line: str) -> tuple[str, str]:
    end = line.rfind("]")
    inner = line[1:end] if end > 0 else line[1:]
    name, space, rest = inner.partition(" ")
    if space:
        rest = rest.strip()
        if len(rest) >= 2 and rest[0] == '"' and rest[-1] == '"':
            rest = rest[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return name.strip().lower(), rest
    if "." in name:  # the old ``[section.subsection]`` form: the subsection is lower-cased
        head, _, tail = name.partition(".")
        return head.lower(), tail.lower()
    return name.strip().lower(), ""


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "\\": "\\", '"': '"'}


def _value(raw: str) -> str:
    """A value as git reads it: quotes removed, escapes undone, a comment outside quotes cut off."""
    out: list[str] = []
    quoted = False
    pending_blank = ""
    chars = raw.strip()
    i = 0
    while i < len(chars):
        c = chars[i]
        i += 1
        if c == "\\" and i < len(chars):
            out.append(pending_blank + _ESCAPES.get(chars[i], chars[i]))
            pending_blank = ""
            i += 1
        elif c == '"':
            quoted = not quoted
        elif not quoted and c in "#;":
            break
        elif not quoted and c in " \t":
            pending_blank += c  # kept only when something follows: trailing blanks are dropped
        else:
            out.append(pending_blank + c)
            pending_blank = ""
    return "".join(out)


def _insteadof(entries: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
    return [(value, sub) for section, sub, key, value in entries if section == "url" and key == "insteadof" and value]


def _rewrite(url: str, rules: list[tuple[str, str]]) -> str:
    """``url`` with the longest matching ``url.<base>.insteadOf`` prefix replaced by its base."""
    best: tuple[str, str] | None = None
    for prefix, base in rules:
        if url.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, base)
    return url if best is None else best[1] + url[len(best[0]) :]


def _global_git_config(read: list[str]) -> list[tuple[str, str, str, str]]:
    """Entries of the user's own git config files (``~/.gitconfig`` and ``$XDG_CONFIG_HOME/git/config``)."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    entries: list[tuple[str, str, str, str]] = []
    for path in (os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")):
        text = _read(path, read)
        if text:
            entries.extend(parse_git_config(text))
    return entries


def _ssh_alias(url: str, read: list[str]) -> str:
    """An ssh remote whose host is a ``Host`` alias of ``~/.ssh/config`` with a ``HostName``, rewritten to
    that host name (``git@github-work:a/b`` with ``Host github-work`` / ``HostName github.com``)."""
    if "://" in url and not url.lower().startswith(("ssh://", "git+ssh://", "ssh+git://")):
        return url
    host = _host_of(url)
    if not host:
        return url
    text = _read(os.path.join(os.path.expanduser("~"), ".ssh", "config"), read)
    if not text:
        return url
    real = _ssh_hostname(text, host)
    if not real:
        return url
    if "://" in url:
        scheme, _, rest = url.partition("://")
        user, at, hostport = rest.partition("/")[0].rpartition("@")
        tail = rest[len(rest.partition("/")[0]) :]
        port = hostport[len(host) :]  # ":2222" or ""
        return f"{scheme}://{user}{at}{real}{port}{tail}"
    user, at, hostpath = url.rpartition("@")
    return f"{user}{at}{real}{hostpath[len(host) :]}"


def _ssh_hostname(text: str, alias: str) -> str | None:
    """The ``HostName`` of the ``Host`` block naming ``alias`` exactly (patterns are not matched)."""
    names: list[str] = []
    for line in text.splitlines():
        words = line.replace("=", " ").split()
        if not words or words[0].startswith("#"):
            continue
        keyword = words[0].lower()
        if keyword in ("host", "match"):
            names = words[1:] if keyword == "host" else []
        elif keyword == "hostname" and alias in names and len(words) > 1:
            return words[1].lower()
    return None


# -- remote URLs --------------------------------------------------------------------------------------
def _split_remote(url: str) -> tuple[str, str, str] | None:
    """(scheme, host, path) of a remote URL or scp-like address; None for a local path.

    Credentials, the port, a query and a fragment are dropped here, so nothing after this sees them.
    """
    url = url.strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if sep and scheme and all(c.isalnum() or c in "+.-" for c in scheme):
        scheme = scheme.lower()
        if scheme == "file":
            return None
        rest = rest.partition("#")[0].partition("?")[0]
        authority, _, path = rest.partition("/")
        hostport = authority.rpartition("@")[2]
        if hostport.startswith("["):  # an IPv6 literal: [::1]:2222
            host = hostport[: hostport.find("]") + 1] if "]" in hostport else hostport
        else:
            host = hostport.partition(":")[0]
        return (scheme, host, path) if host else None
    # scp-like ``[user@]host:path``: git's rule, a colon before any slash (``./a:b`` is a path)
    colon = url.find(":")
    slash = url.find("/")
    if colon <= 0 or (0 <= slash < colon):
        return None
    head, path = url[:colon], url[colon + 1 :]
    host = head.rpartition("@")[2]
    if len(host) <= 1 and not head.count("@"):
        return None  # ``c:/repo``: a drive letter, not a host
    return "ssh", host, path.partition("#")[0].partition("?")[0]


def _host_of(url: str) -> str | None:
    split = _split_remote(url)
    return split[1].lower() if split else None


def remote_identity(url: str) -> str | None:
    """The project identity a remote URL stands for (``host/owner/name``), or None when it names no host.

    >>> remote_identity("https://user:token@GitHub.com/Acme/API.git/")
    'github.com/acme/api'
    """
    split = _split_remote(url)
    if split is None:
        return None
    _scheme, host, path = split
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    host = HOST_ALIASES.get(host, host)
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[-1].lower().endswith(".git"):
        parts[-1] = parts[-1][:-4]
        if not parts[-1]:
            parts.pop()
    if not parts or not host or any(c in host for c in "@/\\ ") or any("@" in p or ":" in p for p in parts):
        # A malformed address (a "/" in an unencoded password would put the rest of the password here):
        # no identity rather than one that might carry a secret.
        return None
    host, parts = _azure(host, parts)
    if host in CASELESS_HOSTS:
        parts = [p.lower() for p in parts]
    return host + "/" + "/".join(parts)


def _azure(host: str, parts: list[str]) -> tuple[str, list[str]]:
    """Azure DevOps' three spellings of one repository as ``dev.azure.com/org/project/repo``."""
    if host in ("ssh.dev.azure.com", "vs-ssh.visualstudio.com") and parts[0].lower() == "v3":
        return "dev.azure.com", parts[1:]
    if host.endswith(".visualstudio.com"):
        parts = [host[: -len(".visualstudio.com")]] + [p for p in parts if p.lower() != "defaultcollection"]
        host = "dev.azure.com"
    if host == "dev.azure.com":
        parts = [p for p in parts if p != "_git"]
    return host, parts


def display_url(url: str) -> str:
    """``url`` as it may be shown or logged: without a password or token, a query or a fragment."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        scheme, rest = "", scheme
    rest = rest.partition("#")[0].partition("?")[0]
    # Everything up to the last "@" is user information, even when a "/" in a password makes it
    # look like a path: only the common user names are kept (``git@``), never a token or password.
    userinfo, at, after = rest.rpartition("@")
    keep = at and userinfo in ("git", "ssh", "hg")
    return f"{scheme}{sep}{userinfo + '@' if keep else ''}{after}"


# -- opting out -----------------------------------------------------------------------------------------
def is_excluded(root: str, globs: list[str]) -> bool:
    """True when the project directory ``root`` opted out: an ignore file in it, or a configured glob
    matches it. (The directory on this machine, not the identity: these are local choices.)"""
    if os.path.exists(os.path.join(root, IGNORE_FILE)):
        return True
    if not globs:
        return False
    import fnmatch

    for pattern in globs:
        expanded = os.path.expanduser(pattern).rstrip("/")
        if fnmatch.fnmatch(root, expanded) or fnmatch.fnmatch(root, expanded + "/*"):
            return True
    return False
